#!/usr/bin/env bash
# Debian packages casekit needs outside Python, installed only when missing:
#   fonts  — fonts-noto-cjk, so charts and handouts draw Chinese (demo and tests)
#   test   — the above plus chromium (headless browser tests), postgresql (gradebook tests)
#            and bubblewrap (the sandbox trainee code runs in)
#   sandbox — bubblewrap only (what `casekit grade` needs to run trainee code)
#   node   — nodejs and npm, for JupyterHub's configurable-http-proxy (package.json)
set -euo pipefail
want=()
case "${1:-fonts}" in
  node) command -v npm >/dev/null || want+=(nodejs npm) ;;
  sandbox) ;;
  *) fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || want+=(fonts-noto-cjk fontconfig) ;;
esac
if [ "${1:-fonts}" = "test" ] || [ "${1:-fonts}" = "sandbox" ]; then
  command -v bwrap >/dev/null || want+=(bubblewrap)
fi
if [ "${1:-fonts}" = "test" ]; then
  command -v useradd >/dev/null || want+=(passwd)   # the hub tests make real system users
  command -v pgrep >/dev/null || want+=(procps)     # ... and find and end their processes
  [ -x /usr/bin/chromium ] || want+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
fi
if [ "${1:-fonts}" = "test" ] && [ -e .venv/bin/python ]; then
  # The hub tests run trainees' servers from this venv as other system users: every
  # folder above its interpreter must be searchable (o+x; nothing becomes listable).
  d=$(dirname "$(readlink -f .venv/bin/python)")
  while [ "$d" != "/" ]; do
    [ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] || { echo "chmod o+x $d (hub tests)"; chmod o+x "$d"; }
    d=$(dirname "$d")
  done
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
