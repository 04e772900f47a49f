#!/usr/bin/env bash
# Install what the browser tests drive: Debian's headless Chromium and its WebDriver.
# Idempotent: does nothing when both are already there. Needs root (CI and the dev machines are).
# `make deps` runs it (deploy/local/deps.sh), never `make test`.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "browser.sh: chromium/chromedriver missing; run as root or: sudo apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium chromium-driver
