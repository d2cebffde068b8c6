#!/usr/bin/env bash
# Packs everything the GPU check (run_gpu_check.sh) needs on a lent GPU machine, which has
# PyTorch (CUDA) but no Node, no npm and no network. The device tool carries at most 64 MiB a
# call, the working tree included (≈ 39 MiB since the default model grew), so it travels in TWO
# archives, one per call:
#
#   .cache/gpu-pack/node/node.tar.xz     this machine's Node binary, stripped (≈ 21 MiB)
#   .cache/gpu-pack/main/gsae-gpu.tar.xz
#     gsae/                     what the working tree does not carry: dist/ (built here) and the
#                               runtime + test node_modules (no typescript, playwright, @types,
#                               lightningcss (vite imports it lazily, for CSS), wabt's binaries,
#                               js-tiktoken's other encodings; rolldown stays: vitest's vite
#                               transforms with it; gl without its build tree; webgpu with the linux-x64
#                               Dawn .node only). The project's files travel as the device tool's
#                               copy of the working tree; run_gpu_check.sh puts the two together.
#     shared/bench/             ../shared/bench/peer_torch.py (the tree's ../shared does not travel)
#     debs/*.deb                Debian's EGL/GL/Vulkan loaders (libvulkan1 libegl1 libglvnd0
#                               libopengl0 libgl1 libglx0 libgles2), `apt-get download`ed
#     PACK.json                 what went in, from which commit, sizes
#
# Usage (here, from the repository root):  bash experiments/bench/gpu/pack.sh [--no-build] [--no-debs]
# Then on the device tool, two calls back to back (a machine stays warm 30 s after a call, and
# what call 1 leaves in the ignored .cache/gpu-stage/ is still there for call 2):
#   1. run(command="bash experiments/bench/gpu/stage_node.sh", carry=[".cache/gpu-pack/node"], timeout_s=120)
#   2. run(command="bash experiments/bench/gpu/run_gpu_check.sh", carry=[".cache/gpu-pack/main"], timeout_s=540)
# Here (no size limit) one call does both: run_gpu_check.sh finds the node archive beside it.
# The .debs need the Debian mirror once (apt-get update into a private lists dir, as
# /work/.library/device/README.md describes); --no-debs packs without them (the check then
# reports the loaders missing, unless the GPU machine has them).
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
# the device tool's 64 MiB limit covers the working tree (tracked + untracked: the default model
# and data) and each call's carried archive together
LIMIT_MB=64

build=1 debs=1
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --no-debs) debs=0 ;;
    *) echo "pack: unknown flag $a (known: --no-build --no-debs)" >&2; exit 2 ;;
  esac
done

for tool in node tar xz git; do command -v "$tool" >/dev/null || { echo "pack: $tool not found" >&2; exit 1; }; done
[ -d node_modules ] || { echo "pack: node_modules/ missing: run npm ci first" >&2; exit 1; }

if [ "$build" = 1 ]; then
  echo "pack: building dist/ (tsc emits even where other files have type errors) ..."
  npm run --silent build >/tmp/gsae-pack-build.log 2>&1 || echo "pack: tsc reported errors (see /tmp/gsae-pack-build.log); dist/ was emitted anyway"
fi
[ -f dist/experiments/bench/main.js ] || { echo "pack: dist/experiments/bench/main.js missing: the build failed" >&2; exit 1; }

STAGE=$(mktemp -d /tmp/gsae-gpu-pack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/node" "$STAGE/gsae" "$STAGE/debs"

# Node: the binary is self-contained (links only glibc/libstdc++ of any current distribution);
# stripped of its symbol table (99 → 86 MB; it runs the same)
cp "$(command -v node)" "$STAGE/node/node"
command -v strip >/dev/null && strip --strip-all "$STAGE/node/node" || echo "pack: strip not found: Node packed with its symbols"

cp -r dist "$STAGE/gsae/dist"
mkdir -p "$STAGE/shared/bench"
[ -f ../shared/bench/peer_torch.py ] && cp ../shared/bench/peer_torch.py "$STAGE/shared/bench/" || echo "pack: ../shared/bench/peer_torch.py not found: the GPU check will have no PyTorch peer"

# node_modules without what neither the runtime nor vitest needs there
tar -cf - \
  --exclude='node_modules/typescript' --exclude='node_modules/playwright-core' --exclude='node_modules/@types' \
  --exclude='node_modules/gl/angle' --exclude='node_modules/gl/deps' --exclude='node_modules/gl/src/native' \
  --exclude='node_modules/gl/build/Release/obj' --exclude='node_modules/gl/build/Release/.deps' --exclude='node_modules/gl/build/Release/*.a' \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/lightningcss*' \
  --exclude='node_modules/wabt/bin' --exclude='node_modules/js-tiktoken/dist/index.*' \
  --exclude='node_modules/js-tiktoken/dist/ranks/cl100k_base.*' --exclude='node_modules/js-tiktoken/dist/ranks/o200k_base.*' \
  --exclude='node_modules/js-tiktoken/dist/ranks/p50k_*' --exclude='node_modules/js-tiktoken/dist/ranks/r50k_base.*' \
  --exclude='*.map' --exclude='*.md' \
  node_modules | tar -xf - -C "$STAGE/gsae"

if [ "$debs" = 1 ]; then
  echo "pack: downloading the EGL/GL/Vulkan loader .debs (amd64) ..."
  mkdir -p /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  if apt-get $o update >/tmp/gsae-pack-apt.log 2>&1 && (cd "$STAGE/debs" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >>/tmp/gsae-pack-apt.log 2>&1); then
    echo "pack: $(ls "$STAGE/debs" | wc -l) .debs"
  else
    echo "pack: apt-get download failed (see /tmp/gsae-pack-apt.log); packing without the loaders" >&2
    rm -f "$STAGE/debs"/*.deb
  fi
fi

commit=$(git rev-parse HEAD)
dirty=$(git status --porcelain --untracked-files=no | wc -l)
cat >"$STAGE/PACK.json" <<EOF
{"commit": "$commit", "uncommitted_tracked_files": $dirty, "packed_at": "$(date -u +%FT%TZ)",
 "node": "$(node --version)", "debs": [$(ls "$STAGE/debs" | sed 's/.*/"&"/' | paste -sd, -)],
 "dawn": $( [ -f "$STAGE/gsae/node_modules/webgpu/dist/linux-x64.dawn.node" ] && echo true || echo false ),
 "headless_gl_built": $( [ -f "$STAGE/gsae/node_modules/gl/build/Release/webgl.node" ] && echo true || echo false )}
EOF

rm -rf .cache/gpu-pack
mkdir -p .cache/gpu-pack/node .cache/gpu-pack/main
echo "pack: compressing (xz -9, 2 threads) ..."
tar -C "$STAGE" -cf - node | xz -9 -T2 >.cache/gpu-pack/node/node.tar.xz.tmp
mv .cache/gpu-pack/node/node.tar.xz.tmp .cache/gpu-pack/node/node.tar.xz
tar -C "$STAGE" -cf - gsae shared debs PACK.json | xz -9 -T2 >.cache/gpu-pack/main/gsae-gpu.tar.xz.tmp
mv .cache/gpu-pack/main/gsae-gpu.tar.xz.tmp .cache/gpu-pack/main/gsae-gpu.tar.xz
tree=$( { git ls-files -z; git ls-files --others --exclude-standard -z; } | xargs -0 du -cb 2>/dev/null | awk '/total$/{s+=$1} END{print s+0}')
mib() { awk "BEGIN{printf \"%.1f\", $1/1048576}"; }
echo "pack: working tree $(mib "$tree") MiB (commit ${commit:0:12}, $dirty uncommitted tracked file(s))"
over=0
for f in .cache/gpu-pack/node/node.tar.xz .cache/gpu-pack/main/gsae-gpu.tar.xz; do
  size=$(stat -c %s "$f")
  echo "pack: $f $(mib "$size") MiB; with the tree $(mib $(( size + tree ))) of the call's 64 MiB"
  [ $(( size + tree )) -gt $(( LIMIT_MB * 1048576 )) ] && over=1
done
if [ "$over" = 1 ]; then
  echo "pack: a call would carry more than the device tool's 64 MiB (tree + archive); trim node_modules above or the tree" >&2
  exit 1
fi
