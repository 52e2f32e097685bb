#!/usr/bin/env bash
# Install Debian's chromium for the dashboard's browser tests (tests/e2e/test_dashboard_browser.py), if missing.
# Playwright for Python drives it (executable_path=/usr/bin/chromium); we never run `playwright install`, which
# would download a browser build from outside the package registries.
set -euo pipefail
[[ -x /usr/bin/chromium ]] && exit 0
sudo=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "install-browser: chromium is missing; install it: apt-get install chromium" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-browser: installing chromium from Debian's packages" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
  chromium >/dev/null
