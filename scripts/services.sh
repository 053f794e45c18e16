# Sourced by the scripts that run suites against the real services (scripts/test.sh,
# scripts/test-sanitized.sh). use_services <who>: starts Kafka and PostgreSQL (scripts/dev-services)
# unless they already run, and exports where the suites find them; stop_started_services stops only
# what use_services started.
started_services=()

use_services() {
  local service
  for service in kafka postgres; do
    if ! scripts/dev-services status "$service" >/dev/null 2>&1; then
      scripts/dev-services start "$service" || { echo "$1: cannot start $service" >&2; exit 1; }
      started_services+=("$service")
    fi
  done
  export CHAT_TEST_DATABASE_URL=postgresql://chat:chat@127.0.0.1:5432/chat
  export CHAT_TEST_KAFKA_BROKERS=127.0.0.1:9092
  export CHAT_REQUIRE_SERVICES=1
}

stop_started_services() {
  local service
  for service in "${started_services[@]}"; do scripts/dev-services stop "$service" >/dev/null || true; done
}
