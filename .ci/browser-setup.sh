#!/usr/bin/env bash
# Installs Debian's Chromium so the gpujs backend's browser modes can be tested in headless
# Chromium on SwiftShader (test/backends/gpujs/browser.test.ts: WebGL2 and WebGL run GLSL kernels,
# WebGPU runs WGSL kernels). Playwright's own browser download is not used (no network for it
# here): the test drives /usr/bin/chromium through playwright-core, a devDependency.
#
# Idempotent: does nothing when chromium is installed. Never fatal for the project: without
# chromium the browser test prints why it is skipped and the rest of the suite runs.
# Measured on this 2-core Debian 12 machine: `apt-get install -y chromium` (with its
# recommends, 110 packages on this image) took 70 s; the browser test then takes
# 35-50 s.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x /usr/bin/chromium ]; then
  echo "browser-setup: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "browser-setup: not root and no sudo; cannot install chromium" >&2
    exit 1
  fi
fi

echo "browser-setup: installing chromium"
t0=$(date +%s)
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
echo "browser-setup: apt took $(( $(date +%s) - t0 )) s"
/usr/bin/chromium --version
