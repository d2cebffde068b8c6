#!/usr/bin/env bash
# Call 1 of the GPU check on the device tool (pack.sh explains why there are two): unpacks the
# carried Node archive (.cache/gpu-pack/node/node.tar.xz) into .cache/gpu-stage/node/, an ignored
# folder the device machine keeps for the next call while it stays warm (30 s after this one).
#   run(command="bash experiments/bench/gpu/stage_node.sh", carry=[".cache/gpu-pack/node"], timeout_s=120)
set -euo pipefail
cd "$(dirname "$0")/../../.."
A=${1:-.cache/gpu-pack/node/node.tar.xz}
[ -f "$A" ] || { echo "stage_node: $A not found: run experiments/bench/gpu/pack.sh here and carry .cache/gpu-pack/node" >&2; exit 1; }
rm -rf .cache/gpu-stage/node
mkdir -p .cache/gpu-stage
xz -dc "$A" | tar -xf - -C .cache/gpu-stage
.cache/gpu-stage/node/node --version
echo "stage_node: Node staged in .cache/gpu-stage/node; now, within 30 s: run(command=\"bash experiments/bench/gpu/run_gpu_check.sh\", carry=[\".cache/gpu-pack/main\"], timeout_s=540)"
