#!/usr/bin/env bash
# A self-signed TLS certificate for trying deploy/compose.yaml (or a test): writes tls.crt and
# tls.key into DIR (default deploy/tls, which nginx mounts at /etc/nginx/tls). In production put
# your real certificate and key there under the same names instead.
# Usage: deploy/make-tls-cert.sh [DIR] [HOST]   (HOST default localhost; 127.0.0.1 is always added)
set -euo pipefail
dir=${1:-"$(dirname "$0")/tls"}
host=${2:-localhost}
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=$host" -addext "subjectAltName=DNS:$host,IP:127.0.0.1" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
# nginx's master process reads the key as root in the container; keep it private on the host.
chmod 600 "$dir/tls.key"
echo "wrote $dir/tls.crt and $dir/tls.key for $host"
