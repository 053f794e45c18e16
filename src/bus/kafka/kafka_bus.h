#pragma once
// The bus between instances: Apache Kafka, one topic per instance.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "bus/bus.h"

namespace chat::bus {

struct KafkaOptions {
  std::string brokers;  // host:port[,host:port...]
  std::string topic_prefix = "chat";
  std::string node_id;  // this instance; its topic is <prefix>.node.<node_id>
  std::chrono::milliseconds linger{3};
  // How long start() waits for the cluster before giving up.
  std::chrono::milliseconds start_timeout{30'000};
  // Extra librdkafka properties for both clients, applied after the bus's own (so they override
  // them; the tests shorten timeouts for librdkafka's mock cluster).
  std::vector<std::pair<std::string, std::string>> properties{};
};

// Bus over Kafka. Each instance owns the topic <prefix>.node.<node_id> (created with the Admin API
// when missing, one partition) and reads it with assign() from the end offset it fixed in
// start(): no consumer group, so no rebalances. publish() hands the event to this process's
// handler at once and produces one record per destination instance (key: the recipient,
// value: the event as JSON, see event_codec.h) to that instance's topic. An instance that holds no
// connection of an event's recipient is never sent it.
//
// Kafka is a fast path: a record that cannot be produced or delivered is counted
// (BusStats::publish_failures) and dropped, never reported to the publisher; the instances heal
// it from the store. Producer: acks=all, idempotence on, linger.ms as configured,
// reconnect.backoff.max.ms=1000 on both clients.
//
// Threading: one thread of the bus serves the producer's delivery reports and the consumer, and
// calls the handler for consumed records. Thread-safe after start(); the handler must not block.
// subscribe() and on_recovered() come before start(); stop() never from the bus's callbacks.
class KafkaBus final : public Bus {
 public:
  static std::string topic_for(const std::string& prefix, const std::string& node_id);

  explicit KafkaBus(KafkaOptions options);
  ~KafkaBus() override;  // stop()
  KafkaBus(const KafkaBus&) = delete;
  KafkaBus& operator=(const KafkaBus&) = delete;

  // Before start(): called on the bus thread when contact with Kafka comes back after it was lost,
  // or after this instance's topic had to be re-created, so that the instance catches its
  // connections up from the store at once.
  void on_recovered(std::function<void()> callback);

  // Creates the clients and this instance's topic if missing, fixes the offset to consume from
  // (the end of the topic now) and starts consuming. unavailable when the cluster cannot be
  // reached within start_timeout.
  Status start();
  // Flushes what is queued (bounded by a second) and stops consuming. Idempotent; the
  // destructor calls it.
  void stop();

  // Deletes the topic of another instance (a dead one). A missing topic is not an error.
  Status delete_topic_of(const std::string& node_id);

  // What the bus last saw of the cluster, for health checks, metrics and tests. contact_lost and
  // topic_missing last from the fault until the recovery that on_recovered reports.
  enum class Health { stopped, ok, contact_lost, topic_missing };
  Health health() const;

  void subscribe(Handler handler) override;
  void publish(Event event, const Nodes& nodes) override;
  BusStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chat::bus
