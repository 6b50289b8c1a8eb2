#!/usr/bin/env bash
# Debian packages casekit needs outside Python, installed only when missing:
#   fonts  — fonts-noto-cjk, so charts and handouts draw Chinese (demo and tests)
#   test   — the above plus chromium (headless browser tests), postgresql (gradebook tests)
#            and bubblewrap (the sandbox trainee code runs in)
#   sandbox — bubblewrap only (what `casekit grade` needs to run trainee code)
set -euo pipefail
want=()
if [ "${1:-fonts}" != "sandbox" ]; then
  fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || want+=(fonts-noto-cjk fontconfig)
fi
if [ "${1:-fonts}" = "test" ] || [ "${1:-fonts}" = "sandbox" ]; then
  command -v bwrap >/dev/null || want+=(bubblewrap)
fi
if [ "${1:-fonts}" = "test" ]; then
  [ -x /usr/bin/chromium ] || want+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
fi
[ ${#want[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${want[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to apt-get install: ${want[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
# matplotlib caches the font list: drop it so the new CJK fonts are seen.
rm -rf "${HOME}/.cache/matplotlib"
