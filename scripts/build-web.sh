#!/usr/bin/env bash
# Builds the web client (web/ → web/dist, which chat-engine serves at /) when it is missing or older
# than its sources: npm ci from the committed lock file, then tsc and Vite. Without Node.js it says
# so and leaves the server without a web client (it answers 404 at /). Used by `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f web/dist/index.html ] &&
   [ -z "$(find web/index.html web/src web/package-lock.json web/vite.config.ts clients/js/src -newer web/dist/index.html -print -quit)" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "web: npm not found (Node.js 20 or later); the web client is not built and / answers 404" >&2
  exit 0
fi
cd web
npm ci --no-audit --no-fund --loglevel=error
npm run build
