#include "server/metrics.h"

#include <cstdio>
#include <iterator>

namespace chat::server {
namespace {

constexpr auth::JwtFailure kJwtFailures[] = {
    auth::JwtFailure::too_large,         auth::JwtFailure::malformed,
    auth::JwtFailure::unsupported_alg,   auth::JwtFailure::bad_signature,
    auth::JwtFailure::missing_exp,       auth::JwtFailure::expired,
    auth::JwtFailure::not_yet_valid,     auth::JwtFailure::missing_identity,
    auth::JwtFailure::critical_extension};

void line(std::string& out, const char* name, const std::string& labels, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out.append(name).append(labels).append(" ").append(buf).append("\n");
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

void LatencyHistogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void LatencyHistogram::render(std::string& out, const char* name) const {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBounds[i]);
    line(out, bucket.c_str(), std::string("{le=\"") + le + "\"}", static_cast<double>(cumulative));
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  line(out, bucket.c_str(), "{le=\"+Inf\"}", static_cast<double>(cumulative));
  line(out, (std::string(name) + "_sum").c_str(), "",
       static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  line(out, (std::string(name) + "_count").c_str(), "",
       static_cast<double>(count_.load(std::memory_order_relaxed)));
}

void Metrics::auth_failure(auth::JwtFailure reason) {
  for (std::size_t i = 0; i < kJwtFailureKinds; ++i)
    if (kJwtFailures[i] == reason) jwt_failures_[i].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::auth_failure(AuthRefusal reason) {
  other_failures_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::send_failed(Errc code) {
  const std::string_view wire = ws_error_code(code);
  for (std::size_t i = 0; i < std::size(kWsErrorCodes); ++i)
    if (kWsErrorCodes[i] == wire) send_failures_[i].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render(const bus::BusStats& bus) const {
  std::string out;
  out.reserve(4096);
  auto counter = [&out](const char* name, const char* help, uint64_t value) {
    header(out, name, "counter", help);
    line(out, name, "", static_cast<double>(value));
  };
  header(out, "chat_connections", "gauge", "Open WebSocket connections on this node.");
  line(out, "chat_connections", "", static_cast<double>(connections.load()));
  counter("chat_connections_opened_total", "WebSocket connections accepted.",
          connections_opened.load());
  counter("chat_messages_accepted_total", "Messages stored and acknowledged with sent.",
          messages_accepted.load());
  counter("chat_messages_duplicate_total", "Sends answered from the idempotency record.",
          messages_duplicate.load());
  counter("chat_deliveries_total", "Message events handed to live connections.", deliveries.load());
  counter("chat_typing_dropped_total", "Typing events dropped by a full outbound queue.",
          typing_dropped.load());
  counter("chat_slow_consumer_closes_total", "Connections closed 4008 for a full outbound queue.",
          slow_consumer_closes.load());
  counter("chat_accept_failures_total", "Failed accept() calls (e.g. out of descriptors).",
          accept_failures.load());
  counter("chat_entries_filled_total",
          "Inbox entries a connection read from the store to close a gap before passing them on.",
          entries_filled.load());
  counter("chat_entries_dropped_as_repeats_total",
          "Inbox entries that reached a connection which had already been given them.",
          entries_dropped_as_repeats.load());
  counter("chat_catch_up_rounds_total",
          "Times this instance compared its users' inbox heads with what their connections have.",
          catch_up_rounds.load());
  counter("chat_bus_published_total",
          "Kafka records carrying events acknowledged by the cluster (one per event per "
          "destination instance).",
          bus.published);
  counter("chat_bus_consumed_total",
          "Kafka records carrying events consumed from this instance's topic.", bus.consumed);
  counter("chat_bus_publish_failures_total",
          "Kafka records that could not be published (healed from the store by the catch-up).",
          bus.publish_failures);
  header(out, "chat_auth_failures_total", "counter", "Refused authentications by reason.");
  for (std::size_t i = 0; i < kJwtFailureKinds; ++i)
    line(out, "chat_auth_failures_total",
         std::string("{reason=\"") + std::string(auth::to_string(kJwtFailures[i])) + "\"}",
         static_cast<double>(jwt_failures_[i].load()));
  line(out, "chat_auth_failures_total", "{reason=\"missing\"}",
       static_cast<double>(other_failures_[0].load()));
  line(out, "chat_auth_failures_total", "{reason=\"unknown_user\"}",
       static_cast<double>(other_failures_[1].load()));
  header(out, "chat_sends_failed_total", "counter",
         "Well-formed sends answered with an error instead of sent, by the error's code.");
  for (std::size_t i = 0; i < std::size(kWsErrorCodes); ++i)
    line(out, "chat_sends_failed_total",
         std::string("{code=\"") + std::string(kWsErrorCodes[i]) + "\"}",
         static_cast<double>(send_failures_[i].load()));
  header(out, "chat_accept_to_durable_seconds", "histogram",
         "Time from accepting a send to its durable commit.");
  accept_to_durable.render(out, "chat_accept_to_durable_seconds");
  return out;
}

}  // namespace chat::server
