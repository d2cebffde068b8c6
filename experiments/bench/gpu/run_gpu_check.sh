#!/usr/bin/env bash
# The GPU check, one prepared script for a lent GPU machine (the device tool's `run`): unpacks
# the archive pack.sh made (.cache/gpu-pack/main/gsae-gpu.tar.xz: the project's dist/ and
# node_modules, Dawn, the EGL/GL/Vulkan loader .debs) and finds Node (staged by stage_node.sh in
# the call before, or the node archive beside the main one, or a node on PATH), then
#   1. gpu          nvidia-smi: the GPU, or "no GPU" (everything else still runs, on the CPU)
#   2. loaders      the .debs: unpacked into / on a GPU machine as root (the device README's
#                   recipe), else into a private sysroot on LD_LIBRARY_PATH (never touches /)
#   3. backends     `gsae backends`: every gpu.js mode with its status or reason
#   4. dawn         dawn_probe.js: WebGPU adapter + one checked, timed compute shader
#   5. equivalence  test/backends/gpujs/equivalence.test.ts on every usable gpu.js mode (vitest,
#                   GSAE_GPUJS_HARDWARE=1; its report names the modes it skipped and why)
#   6. bench        `npm run bench`'s main.js --json on the SAE steps (and matmul 1024³) beside
#                   PyTorch on CUDA (peer_torch_select.py --device cuda) when torch sees a GPU
#   7. summary      $OUT/gpu_check.json (summarise.js): the figures and every step's status
# Files under $OUT (at most 8 come back): gpu_check.json, gpu_check.log, bench.jsonl, equivalence.json.
#
#   device tool (two calls back to back; pack.sh says why):
#     run(command="bash experiments/bench/gpu/stage_node.sh", carry=[".cache/gpu-pack/node"], timeout_s=120)
#     run(command="bash experiments/bench/gpu/run_gpu_check.sh", carry=[".cache/gpu-pack/main"], timeout_s=540)
#   here (no GPU: it must say so and finish):  OUT=/tmp/gpu-out bash experiments/bench/gpu/run_gpu_check.sh
# Environment: GSAE_GPU_BENCH_ONLY (workload regex), GSAE_GPU_CHECK_SECONDS (total budget, default
# 480), GSAE_GPU_CHECK_LOADERS=sysroot (never unpack into /), GSAE_GPUJS_TEST_MODES (modes to test).
set -uo pipefail
cd "$(dirname "$0")/../../.."
ARCHIVE=${1:-.cache/gpu-pack/main/gsae-gpu.tar.xz}
NODE_ARCHIVE=.cache/gpu-pack/node/node.tar.xz
STAGED=$PWD/.cache/gpu-stage/node
OUT=${OUT:-$PWD/.cache/gpu-check-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUDGET=${GSAE_GPU_CHECK_SECONDS:-480}
START=$(date +%s)
WORK=$(mktemp -d /tmp/gsae-gpu-check.XXXXXX)
mkdir -p "$WORK/logs"
: >"$OUT/gpu_check.log"

say() { echo "[gpu-check] $*" | tee -a "$OUT/gpu_check.log"; }
left() { echo $(( BUDGET - ($(date +%s) - START) )); }

# step NAME LIMIT_S CMD...: runs CMD with a time limit (cut to what the budget has left), output
# to WORK/logs/NAME.txt and the log, status to WORK/steps.jsonl; never stops the script
step() {
  local name=$1 limit=$2; shift 2
  local l; l=$(left)
  [ "$l" -lt "$limit" ] && limit=$l
  if [ "$limit" -le 5 ]; then
    say "$name: skipped (the ${BUDGET} s budget is spent)"
    echo "{\"name\":\"$name\",\"rc\":124,\"seconds\":0,\"timeout\":0}" >>"$WORK/steps.jsonl"
    return 124
  fi
  say "$name (≤ ${limit} s) ..."
  local t0 rc; t0=$(date +%s.%N)
  # timeout runs programs, not shell functions: a function runs in a child bash that gets its definition
  if [ "$(type -t "$1")" = function ]; then
    timeout --kill-after=10 "$limit" bash -c "$(declare -f "$1"); $*" >"$WORK/logs/$name.txt" 2>&1; rc=$?
  else
    timeout --kill-after=10 "$limit" "$@" >"$WORK/logs/$name.txt" 2>&1; rc=$?
  fi
  local sec; sec=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")
  { echo "----- $name: rc $rc, ${sec} s"; cat "$WORK/logs/$name.txt"; } >>"$OUT/gpu_check.log"
  echo "{\"name\":\"$name\",\"rc\":$rc,\"seconds\":$sec,\"timeout\":$limit}" >>"$WORK/steps.jsonl"
  say "$name: rc $rc in ${sec} s"
  return $rc
}

fail_early() {
  say "$1"
  printf '{"gpu": "unknown", "error": %s}\n' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')" >"$OUT/gpu_check.json"
  exit 1
}

# ---------------------------------------------------------------- unpack
[ -f "$ARCHIVE" ] || fail_early "archive $ARCHIVE not found: run experiments/bench/gpu/pack.sh here and carry .cache/gpu-pack/main"
command -v xz >/dev/null || fail_early "xz not found on this machine (needed to unpack $ARCHIVE)"
say "unpacking $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1)) into $WORK ..."
xz -dc "$ARCHIVE" | tar -xf - -C "$WORK" || fail_early "could not unpack $ARCHIVE"
# Node: staged by stage_node.sh (the call before), else the node archive carried beside (here),
# else one on PATH
if [ -x "$STAGED/node" ]; then NODE="$STAGED/node"
elif [ -f "$NODE_ARCHIVE" ]; then xz -dc "$NODE_ARCHIVE" | tar -xf - -C "$WORK" && NODE="$WORK/node/node"
elif command -v node >/dev/null; then NODE=$(command -v node)
else fail_early "no Node: call stage_node.sh first (carry .cache/gpu-pack/node), then this script within 30 s"
fi
[ -x "$NODE" ] || fail_early "Node at $NODE is not executable"
say "node: $NODE"
export PATH="$(dirname "$NODE"):$PATH"
# the project: this working tree's files (the device tool's copy of it) with the archive's dist/
# and node_modules; the tree's own dist/, node_modules/ and outputs stay where they are
APP="$WORK/gsae"
tar --exclude=./node_modules --exclude=./dist --exclude=./.cache --exclude=./runs --exclude=./.git --exclude=./.gl -cf - . | tar -xf - -C "$APP" \
  || fail_early "could not copy the working tree into $APP"
cp "$WORK/PACK.json" "$WORK/logs/pack.txt" 2>/dev/null || true

# ---------------------------------------------------------------- 1. GPU
HAVE_GPU=0
export WORK HAVE_GPU
if step gpu 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; then HAVE_GPU=1; fi
export HAVE_GPU
[ "$HAVE_GPU" = 1 ] && say "GPU: $(head -1 "$WORK/logs/gpu.txt")" || say "no GPU (nvidia-smi: $(head -1 "$WORK/logs/gpu.txt" 2>/dev/null)); the checks below run on the CPU only"

# ---------------------------------------------------------------- 2. loaders
loaders() {
  shopt -s nullglob
  local debs=("$WORK"/debs/*.deb)
  if [ "${#debs[@]}" -eq 0 ]; then echo "no .debs in the archive"; return 0; fi
  if [ "$HAVE_GPU" = 1 ] && [ "$(id -u)" = 0 ] && [ "${GSAE_GPU_CHECK_LOADERS:-}" != sysroot ]; then
    for f in "${debs[@]}"; do dpkg -x "$f" / || return 1; done
    ldconfig
    echo "unpacked ${#debs[@]} .debs into / (the device README's recipe)"
  else
    mkdir -p "$WORK/sysroot"
    for f in "${debs[@]}"; do
      if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$f" "$WORK/sysroot" || return 1
      else (cd "$WORK/sysroot" && ar p "$f" data.tar.xz | tar -xJf -) || return 1; fi
    done
    echo "unpacked ${#debs[@]} .debs into $WORK/sysroot (LD_LIBRARY_PATH)"
  fi
  ls /usr/local/nvidia/share/vulkan/icd.d/ /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null || true
}
step loaders 60 loaders
[ -d "$WORK/sysroot/usr/lib/x86_64-linux-gnu" ] && export LD_LIBRARY_PATH="$WORK/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# the NVIDIA driver's ICD / EGL vendor files where the image mounts them (device README)
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json

cd "$APP" || fail_early "no gsae/ in the archive"
[ "$HAVE_GPU" = 1 ] && export GSAE_GPUJS_HARDWARE=1

# ---------------------------------------------------------------- 3–5. gpu.js
step node 10 "$NODE" --version
step backends 60 "$NODE" bin/gsae.js backends
step dawn 90 "$NODE" dist/experiments/bench/gpu/dawn_probe.js
step equivalence 200 "$NODE" node_modules/vitest/vitest.mjs run test/backends/gpujs/equivalence.test.ts --reporter=default --reporter=json --outputFile="$OUT/equivalence.json"

# ---------------------------------------------------------------- 6. bench beside PyTorch
# the Python that has torch: GSAE_PEER_PYTHON, else python3 (the GPU image's), else Debian's
PY=${GSAE_PEER_PYTHON:-}
if [ -z "$PY" ]; then
  for c in "$(command -v python3 || true)" /usr/bin/python3; do
    if [ -n "$c" ] && "$c" -c 'import torch' 2>/dev/null; then PY=$c; break; fi
  done
fi
DEV=cpu
if [ -n "$PY" ] && [ "$HAVE_GPU" = 1 ] && "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then DEV=cuda; fi
say "PyTorch peer: ${PY:-no python3 with torch} on $DEV"
ONLY=${GSAE_GPU_BENCH_ONLY:-'^sae\.(topk|gsae|batchtopk)\.step$|^matmul\.1024\.1024\.1024$'}
# main.js finds the peers beside the project (../shared/bench): the archive puts them at $WORK/shared
export NODE PY DEV ONLY
bench() { GSAE_PEER_PYTHON="${PY:-/usr/bin/python3}" "$NODE" dist/experiments/bench/main.js --json --peer-device "$DEV" --only "$ONLY"; }
step bench 300 bench
grep '^{' "$WORK/logs/bench.txt" >"$OUT/bench.jsonl" || true

# ---------------------------------------------------------------- 7. summary
"$NODE" dist/experiments/bench/gpu/summarise.js "$WORK" "$OUT" | tee -a "$OUT/gpu_check.log"
[ "$HAVE_GPU" = 1 ] || say "no GPU: figures above are CPU-only (the script ran end to end)"
rm -rf "$WORK"
exit 0
