# Source me: `source ./update_env.sh` exports a working local configuration for one node, the
# same one `make run` uses, so that jwt.py, curl and the server agree wherever you run them.
_chat_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
export CHAT_LISTEN="127.0.0.1:8000"
export CHAT_DATA_DIR="$_chat_root/data"
export CHAT_URL="http://$CHAT_LISTEN"
export CHAT_WS_URL="ws://$CHAT_LISTEN/ws"
unset _chat_root
