#!/usr/bin/env bash
# `make conformance`: the Autobahn WebSocket testsuite (wstest -m fuzzingclient) against one
# chat-engine node's /ws, re-scored for a chat server by tools/conformance/score.py
# (docs/reliability.md, "WebSocket conformance (Autobahn)").
#
#  1. Makes a Python 2.7 virtualenv outside git (CHAT_AUTOBAHN_DIR, default
#     /var/tmp/chat-engine-autobahn) holding autobahntestsuite and its pinned dependencies; when it
#     is there already with the same pins, this step takes no time. The Python 2.7 interpreter is
#     CHAT_PYTHON27, else `pyenv prefix 2.7.18`, else python2.7 on the PATH.
#  2. Starts chat-engine (fresh data dir, free port, known secret), creates a user with the REST
#     API, mints a token with jwt.py.
#  3. Runs the cases (CHAT_AUTOBAHN_CASES, default 1-7, 9, 10, 12, 13) and scores the reports.
#     --write-doc also regenerates the table in docs/reliability.md. Autobahn's own reports are
#     left in <build dir>/autobahn-reports.
# Exit status: 0 when every case passes the scorer, 1 otherwise or when Python 2.7 is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_dir=${1:-build}
write_doc=()
[ "${2:-}" = "--write-doc" ] && write_doc=(--write-doc docs/reliability.md)
binary=$root/$build_dir/chat-engine
dir=${CHAT_AUTOBAHN_DIR:-/var/tmp/chat-engine-autobahn}
cases=${CHAT_AUTOBAHN_CASES:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.*,13.*}

# ---- 1. the suite's virtualenv -------------------------------------------------------------------
python27=${CHAT_PYTHON27:-}
if [ -z "$python27" ]; then
  if command -v pyenv >/dev/null && pyenv prefix 2.7.18 >/dev/null 2>&1; then
    python27=$(pyenv prefix 2.7.18)/bin/python
  elif [ -x /root/.pyenv/versions/2.7.18/bin/python ]; then
    python27=/root/.pyenv/versions/2.7.18/bin/python
  else
    python27=$(command -v python2.7 || true)
  fi
fi
if [ -z "$python27" ] || ! "$python27" -c 'import sys; assert sys.version_info[:2] == (2, 7)' 2>/dev/null; then
  echo "conformance: the Autobahn testsuite needs Python 2.7, and none was found" >&2
  echo "  (set CHAT_PYTHON27 to a python2.7 binary, or: pyenv install 2.7.18)" >&2
  exit 1
fi
[ -x "$binary" ] || { echo "conformance: no server at $binary (make build)" >&2; exit 1; }

# The suite's own pins (autobahntestsuite 0.8.2 asks for autobahn 0.10.9), and for every other
# dependency the last version that installs on Python 2.7.
pins=(autobahntestsuite==0.8.2 autobahn==0.10.9 Twisted==19.10.0 zope.interface==4.7.2
  pyOpenSSL==19.1.0 cryptography==3.3.2 service_identity==18.1.0 six==1.16.0 attrs==21.4.0
  idna==2.10 Automat==20.2.0 hyperlink==21.0.0 incremental==21.3.0 constantly==15.1.0
  PyHamcrest==1.10.1 pyasn1==0.4.8 pyasn1-modules==0.2.8 cffi==1.15.1 enum34==1.1.10
  ipaddress==1.0.23 pycparser==2.21 typing==3.10.0.0 unittest2==1.1.0 Jinja2==2.11.3
  MarkupSafe==1.1.1 klein==17.10.0 Werkzeug==1.0.1 treq==18.6.0 requests==2.27.1
  certifi==2021.10.8 chardet==4.0.0 urllib3==1.26.18 pyparsing==2.4.7 zope.deprecation==4.4.0
  txaio==2.1.0)
stamp="$python27 ${pins[*]}"
if [ "$(cat "$dir/installed" 2>/dev/null)" != "$stamp" ]; then
  echo "conformance: installing the Autobahn testsuite into $dir"
  rm -rf "$dir/py27" "$dir/tool"
  mkdir -p "$dir"
  python3 -m venv "$dir/tool"   # virtualenv < 20.22 still makes Python 2.7 environments
  "$dir/tool/bin/pip" install -q 'virtualenv<20.22'
  "$dir/tool/bin/virtualenv" -q -p "$python27" "$dir/py27"
  PIP_NO_PYTHON_VERSION_WARNING=1 "$dir/py27/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
  echo "$stamp" >"$dir/installed"
fi
wstest=$dir/py27/bin/wstest

# ---- 2. one node, one user, one token ------------------------------------------------------------
work=$(mktemp -d)
reports=$root/$build_dir/autobahn-reports  # Autobahn's HTML and JSON reports, kept for reading
rm -rf "$reports"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CHAT_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
"$binary" --listen 127.0.0.1:$port --data-dir "$work/data" --log-level warn 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  kill -0 $server_pid 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf -X POST "http://127.0.0.1:$port/api/user/v1/create" -d '{"username":"autobahn"}' >/dev/null
token=$(python3 jwt.py autobahn --raw --ttl 86400)

# ---- 3. the suite, then the scorer ---------------------------------------------------------------
python3 - "$work/spec.json" "ws://127.0.0.1:$port/ws?token=$token" "$reports" "$cases" <<'PY'
import json, sys
spec, url, outdir, cases = sys.argv[1:]
json.dump({"outdir": outdir, "servers": [{"agent": "chat-engine", "url": url}],
           "cases": cases.split(","), "exclude-cases": [], "exclude-agent-cases": {}},
          open(spec, "w"), indent=2)
PY
started=$(date +%s)
(cd "$work" && "$wstest" -m fuzzingclient -s spec.json >"$work/wstest.log" 2>&1) || {
  tail -n 30 "$work/wstest.log" >&2; exit 1; }
echo "conformance: wstest ran $(($(date +%s) - started)) s"
if ! kill -0 $server_pid 2>/dev/null; then
  echo "conformance: chat-engine died during the suite" >&2; cat "$work/server.log" >&2; exit 1
fi
echo "conformance: Autobahn's reports are in $reports (index.html)"
python3 tools/conformance/score.py "$reports" "${write_doc[@]}"
