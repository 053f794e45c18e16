#!/usr/bin/env bash
# The benchmark peers that tools/chat-bench compares chat-engine with, installed from the
# registries and never committed:
#   Centrifugo v6.9.1  go install into $CHAT_BENCH_CACHE/bin (default /var/tmp/chat-engine-bench/bin)
#   node-relay         npm ci in tools/chat-bench/peers/node-relay (ws + jsonwebtoken, lock file committed)
# and the report's Python libraries (matplotlib, tools/chat-bench/requirements.txt) into .venv.
#
#   scripts/bench-peers.sh install   install what is missing (idempotent), then print the paths
#   scripts/bench-peers.sh status    print what is installed; exit 1 if something is missing
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${CHAT_BENCH_CACHE:-/var/tmp/chat-engine-bench}
centrifugo_version=v6.9.1
centrifugo=$cache/bin/centrifugo
relay=tools/chat-bench/peers/node-relay

# go install stamps the module version into the binary (its own `version` prints v0.0.0).
centrifugo_ok() { [ -x "$centrifugo" ] && go version -m "$centrifugo" 2>/dev/null | grep -qE "^\s+mod\s+github.com/centrifugal/centrifugo/v6\s+$centrifugo_version\s"; }
# npm ci leaves the lock file's copy in node_modules; a matching copy means the install is current.
relay_ok() { cmp -s "$relay/package-lock.json" "$relay/node_modules/.package-lock.json.ci" 2>/dev/null; }

case ${1:-install} in
install)
  if ! centrifugo_ok; then
    echo "bench-peers: installing Centrifugo $centrifugo_version into $cache/bin" >&2
    mkdir -p "$cache/bin"
    GOBIN=$cache/bin go install "github.com/centrifugal/centrifugo/v6@$centrifugo_version"
  fi
  if ! relay_ok; then
    echo "bench-peers: npm ci in $relay" >&2
    (cd "$relay" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$relay/package-lock.json" "$relay/node_modules/.package-lock.json.ci"
  fi
  scripts/python-env.sh
  req=tools/chat-bench/requirements.txt
  stamp=.venv/.bench-requirements.sha256
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -r "$req"
    echo "$sum" > "$stamp"
  fi
  ;;
status) ;;
*)
  echo "usage: scripts/bench-peers.sh install|status" >&2
  exit 2
  ;;
esac
status=0
if centrifugo_ok; then echo "centrifugo $centrifugo"; else echo "centrifugo missing"; status=1; fi
if relay_ok && command -v node >/dev/null; then echo "node-relay $relay/server.js"; else echo "node-relay missing"; status=1; fi
exit $status
