#!/usr/bin/env bash
# Installs what gpu.js's optional `gl` (headless-gl) dependency needs to build and run, so the
# gpujs backend's headless-gl mode can be tested on Mesa's software renderer (llvmpipe) under Xvfb.
#
#  - Debian packages: libxi-dev libxext-dev libx11-dev libglu1-mesa-dev pkg-config (build
#    headers for gl's node-gyp build) and xvfb (a virtual X display; gl needs one to make a context).
#  - Then builds `gl` if node_modules already exists (`npm rebuild gl`); on a fresh checkout the
#    following `npm ci` builds it, since it is an optional dependency in package-lock.json.
#
# Idempotent: packages already present are skipped and a working `gl` is not rebuilt.
# Never fatal for the project: `npm install` succeeds without these packages (gl is optional and
# the backend then reports headless-gl as unavailable, with the reason).
# Timing measured on this 2-core machine: the apt step took 12 s (libxi-dev and xvfb were missing);
# building gl (ANGLE, node-gyp) took 3.5 min idle and 6 min with other jobs on the CPU, whether
# here (`npm install --no-save gl@8.1.6`) or inside the `npm ci` that follows in .ci/run.
# npm 11.19 still runs gl's install script, with a warning that it is "not yet covered by
# allowScripts"; should a later npm stop running it by default, approve it with
# `npm install-scripts approve gl` (or the equivalent allowScripts entry in package.json).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libxi-dev libxext-dev libx11-dev libglu1-mesa-dev pkg-config xvfb)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "gl-setup: not root and no sudo; cannot install ${missing[*]:-nothing}" >&2
    [ "${#missing[@]}" -eq 0 ] || exit 1
  fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "gl-setup: installing ${missing[*]}"
  t0=$(date +%s)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "gl-setup: apt took $(( $(date +%s) - t0 )) s"
else
  echo "gl-setup: Debian packages already installed"
fi

# Build gl now only when node_modules is already there (a later `npm ci` builds it otherwise).
if [ -d node_modules/gpu.js ]; then
  if node -e "require('gl')" >/dev/null 2>&1; then
    echo "gl-setup: gl already built"
  else
    t0=$(date +%s)
    if [ -d node_modules/gl ]; then
      npm rebuild gl --foreground-scripts
    else
      # the version gpu.js pins as its optional dependency
      ver=$(node -p "require('./node_modules/gpu.js/package.json').optionalDependencies.gl")
      npm install --no-save --no-audit --no-fund --foreground-scripts "gl@$ver"
    fi
    echo "gl-setup: gl build took $(( $(date +%s) - t0 )) s"
    node -e "require('gl')" && echo "gl-setup: gl loads"
  fi
fi
