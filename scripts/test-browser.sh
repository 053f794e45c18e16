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

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "test-browser: node and npm are needed (Node.js 20 or later)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "test-browser: Node.js 20 or later is needed, found $(node --version)" >&2
  exit 1
fi
if [ ! -x "${CHAT_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "test-browser: Debian's chromium is needed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)
cd tests/browser
npm ci --no-audit --no-fund --loglevel=error
npm test
