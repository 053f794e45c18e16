#!/usr/bin/env bash
# The web client's browser suite (tests/browser, part of `make test`): builds web/ (npm ci, Vite →
# web/dist), installs playwright-core from tests/browser's lock file, and drives Debian's Chromium
# (/usr/bin/chromium, from scripts/install-deps.sh; never a downloaded browser) against the real
# server ($CHAT_ENGINE_BIN, default <build-dir>/chat-engine) serving web/dist. Screenshots go to
# $CHAT_BROWSER_SCREENSHOTS (default build/browser-screenshots). CHAT_UPDATE_DOCS_SCREENSHOT=1 also
# copies the two-users screenshot to docs/web-client.png. Needs Node.js 20+.
#
#   scripts/test-browser.sh [build-dir]     default: build
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
export CHAT_ENGINE_BIN=${CHAT_ENGINE_BIN:-$PWD/$build_dir/chat-engine}

. scripts/node-check.sh
require_node test-browser
if [ ! -x "${CHAT_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "test-browser: Debian's chromium is needed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)
cd tests/browser
npm ci --no-audit --no-fund --loglevel=error
npm test
