#!/usr/bin/env bash
# Make sure the headless browser the browser tests drive is installed: Chromium and its
# WebDriver from the system's packages (Debian: chromium, chromium-driver). Installs them
# with apt-get when missing (needs root, as on CI); otherwise says what to install.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_browser: installing chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
else
  echo "ensure_browser: install chromium and chromium-driver (the browser tests need them)" >&2
  exit 1
fi
