#!/usr/bin/env bash
# Creates .venv with the end-to-end tests' Python libraries (pinned in tests/e2e/requirements.txt),
# reinstalling only when that file changes.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/e2e/requirements.txt
stamp=.venv/.requirements.sha256
sum=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r "$req"
  echo "$sum" > "$stamp"
fi
