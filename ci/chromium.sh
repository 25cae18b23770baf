#!/usr/bin/env bash
# Debian's Chromium for the HTML report's browser test (tests/browser.rs):
# installed when missing, nothing else. Needs root (apt-get). Runs after
# ci/containers.sh in CI, never beside it (one apt at a time).
set -euo pipefail
if command -v chromium >/dev/null; then
  echo "chromium: $(chromium --version 2>/dev/null | head -n 1)" >&2
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "chromium: error: not installed, and installing needs root: sudo apt-get install chromium" >&2; exit 1; }
log=${HARNESS_CHROMIUM_LOG:-/var/tmp/harness-chromium.log}
echo "chromium: installing Debian's chromium (details: $log)" >&2
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get install -y -qq chromium </dev/null; } >"$log" 2>&1 \
  || { echo "chromium: error: apt-get install chromium failed; see $log" >&2; exit 1; }
echo "chromium: $(chromium --version 2>/dev/null | head -n 1)" >&2
