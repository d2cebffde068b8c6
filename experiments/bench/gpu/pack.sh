#!/usr/bin/env bash
# Packs everything the GPU check (run_gpu_check.sh) needs on a lent GPU machine, which has
# PyTorch (CUDA) but no Node, no npm and no network, into ONE archive under the device tool's
# 64 MiB carry limit:
#
#   .cache/gpu-pack/gsae-gpu.tar.xz
#     node/node                 this machine's Node binary (the project's runtime, x86-64)
#     gsae/                     what the working tree does not carry: dist/ (built here) and the
#                               runtime + test node_modules (no typescript, playwright, @types;
#                               gl without its build tree; webgpu with the linux-x64 Dawn .node
#                               only). The project's files travel as the device tool's copy of
#                               the working tree; run_gpu_check.sh puts the two together.
#     shared/bench/             ../shared/bench/peer_torch.py (the tree's ../shared does not travel)
#     debs/*.deb                Debian's EGL/GL/Vulkan loaders (libvulkan1 libegl1 libglvnd0
#                               libopengl0 libgl1 libglx0 libgles2), `apt-get download`ed
#     PACK.json                 what went in, from which commit, sizes
#
# Usage (here, from the repository root):  bash experiments/bench/gpu/pack.sh [--no-build] [--no-debs]
# Then on the device tool: run(command="bash experiments/bench/gpu/run_gpu_check.sh",
#                              carry=[".cache/gpu-pack"], timeout_s=540)
# The .debs need the Debian mirror once (apt-get update into a private lists dir, as
# /work/.library/device/README.md describes); --no-debs packs without them (the check then
# reports the loaders missing, unless the GPU machine has them).
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
# the device tool's 64 MiB limit covers the working tree (tracked + untracked, ~16 MiB: the
# default model and data) and the carried archive together
LIMIT_MB=46

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

# Node: the binary is self-contained (links only glibc/libstdc++ of any current distribution)
cp "$(command -v node)" "$STAGE/node/node"

cp -r dist "$STAGE/gsae/dist"
mkdir -p "$STAGE/shared/bench"
[ -f ../shared/bench/peer_torch.py ] && cp ../shared/bench/peer_torch.py "$STAGE/shared/bench/" || echo "pack: ../shared/bench/peer_torch.py not found: the GPU check will have no PyTorch peer"

# node_modules without what neither the runtime nor vitest needs there
tar -cf - \
  --exclude='node_modules/typescript' --exclude='node_modules/playwright-core' --exclude='node_modules/@types' \
  --exclude='node_modules/gl/angle' --exclude='node_modules/gl/deps' --exclude='node_modules/gl/src/native' \
  --exclude='node_modules/gl/build/Release/obj' --exclude='node_modules/gl/build/Release/.deps' --exclude='node_modules/gl/build/Release/*.a' \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
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

mkdir -p .cache/gpu-pack
OUTF=.cache/gpu-pack/gsae-gpu.tar.xz
echo "pack: compressing (xz -9, 2 threads) ..."
tar -C "$STAGE" -cf - node gsae shared debs PACK.json | xz -9 -T2 >"$OUTF.tmp"
mv "$OUTF.tmp" "$OUTF"
size=$(stat -c %s "$OUTF")
mb=$(( (size + 1048575) / 1048576 ))
tree=$( { git ls-files -z; git ls-files --others --exclude-standard -z; } | xargs -0 du -cb 2>/dev/null | awk '/total$/{s+=$1} END{print s+0}')
echo "pack: $OUTF $(awk "BEGIN{printf \"%.1f\", $size/1048576}") MiB (commit ${commit:0:12}, $dirty uncommitted tracked file(s)); working tree $(awk "BEGIN{printf \"%.1f\", $tree/1048576}") MiB"
if [ "$mb" -gt "$LIMIT_MB" ] || [ $(( size + tree )) -gt $(( 64 * 1048576 )) ]; then
  echo "pack: the archive (${LIMIT_MB} MiB budget) and the working tree together exceed the device tool's 64 MiB; trim node_modules above" >&2
  exit 1
fi
