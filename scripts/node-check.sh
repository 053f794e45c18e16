# Sourced by the scripts that run the JavaScript suites: require_node <who> fails unless Node.js 20
# or later and npm are on the PATH.
require_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "$1: node and npm are needed (Node.js 20 or later)" >&2
    exit 1
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "$1: Node.js 20 or later is needed, found $(node --version)" >&2
    exit 1
  fi
}
