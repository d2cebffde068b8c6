#!/usr/bin/env bash
# Installs the benchmark's peers on a Debian/Ubuntu machine, so that `npm run bench` prints the
# ratios against them (peers.ts finds them; a missing peer is reported and skipped):
#   - PyTorch (peer_torch.py: torch-cpu and torch-sparse): Debian's python3-torch with
#     OpenBLAS (libopenblas0-pthread) for the system /usr/bin/python3 (GSAE_PEER_PYTHON overrides);
#   - TensorFlow.js 4.22 with its wasm backend (peer_tfjs.cjs): npm packages in /tmp/peer-tfjs
#     (where peers.ts looks, besides NODE_PATH), kept out of the project's own dependencies.
# Needs root (apt) and the package registries; nothing here runs at benchmark time.
#   bash experiments/bench/install_peers.sh [--no-torch] [--no-tfjs]
set -euo pipefail
torch=1 tfjs=1
for a in "$@"; do
  case "$a" in
    --no-torch) torch=0 ;;
    --no-tfjs) tfjs=0 ;;
    *) echo "install_peers.sh: unknown flag $a (known: --no-torch --no-tfjs)" >&2; exit 2 ;;
  esac
done
if [ "$torch" = 1 ]; then
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "install_peers: torch already importable by /usr/bin/python3"
  else
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread
    /usr/bin/python3 -c 'import torch; print("install_peers: torch", torch.__version__)'
  fi
fi
if [ "$tfjs" = 1 ]; then
  mkdir -p /tmp/peer-tfjs
  npm install --prefix /tmp/peer-tfjs --no-save --no-audit --no-fund @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 >/dev/null
  echo "install_peers: tfjs in /tmp/peer-tfjs/node_modules"
fi
