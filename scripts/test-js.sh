#!/usr/bin/env bash
# The JavaScript/TypeScript client library's suite (clients/js, part of `make test`): installs its
# npm packages from the committed lock file, builds dist/ with tsc, and runs the tests with Node's
# test runner against the real server ($CHAT_ENGINE_BIN, default <build-dir>/chat-engine). The
# protocol types are checked against docs/schema/ (CHAT_SCHEMA_DIR overrides). Needs Node.js 20+.
#
#   scripts/test-js.sh [build-dir]     default: build
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
export CHAT_ENGINE_BIN=${CHAT_ENGINE_BIN:-$PWD/$build_dir/chat-engine}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "test-js: node and npm are needed (Node.js 20 or later)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "test-js: Node.js 20 or later is needed, found $(node --version)" >&2
  exit 1
fi

cd clients/js
npm ci --no-audit --no-fund --loglevel=error
npm run build
npm test
