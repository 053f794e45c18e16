#!/usr/bin/env bash
# Installs the Debian 12 packages chat-engine needs to build and test, when any is missing.
# Uses sudo when not root. Safe to run repeatedly: it does nothing when all are present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
  libssl-dev librocksdb-dev libgtest-dev
  python3 python3-venv
  libpq-dev librdkafka-dev
  # make fuzz: clang and its runtimes (libFuzzer, sanitizers)
  clang libclang-rt-14-dev
  # scripts/dev-services: PostgreSQL, and Maven to fetch Kafka's jars (Kafka runs on Java 17+)
  postgresql maven
  # tests/e2e/netfaults: network namespaces, veth pairs and nftables drops
  iproute2 nftables
  # deploy/: nginx in front of instances (tests/e2e/test_deploy.py), openssl for its certificate,
  # docker-compose to validate compose.yaml (no engine needed), mmdebstrap for the runtime root of
  # scripts/check-dockerfile.sh
  nginx openssl docker-compose mmdebstrap
  # tests/browser: the web client in headless Chromium (driven by playwright-core from npm)
  chromium
)
# A JRE only when there is no java at all: one installed outside dpkg serves as well.
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
