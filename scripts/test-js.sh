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

. scripts/node-check.sh
require_node test-js

cd clients/js
npm ci --no-audit --no-fund --loglevel=error
npm run build
npm test
