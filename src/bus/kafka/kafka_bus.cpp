#include "bus/kafka/kafka_bus.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string_view>
#include <thread>

#include "base/clock.h"
#include "base/log.h"
#include "bus/kafka/event_codec.h"
#include "bus/kafka/log_limiter.h"
#include "bus/kafka/resume_offset.h"

namespace chat::bus {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// How long the bus thread waits for a record before it serves delivery reports and checks again.
constexpr milliseconds kPollTimeout = 50ms;
// At most this many records are handed on before delivery reports and checks get a turn.
constexpr int kMaxRecordsPerTurn = 1000;
// The cheap metadata request that tells whether the cluster answers and our topic exists: every
// 5 s when all is well, every second from a fault until the recovery.
constexpr milliseconds kCheckInterval = 5s;
constexpr milliseconds kDegradedCheckInterval = 1s;
constexpr milliseconds kCheckTimeout = 1s;
constexpr milliseconds kMinCheckSpacing = 200ms;
constexpr milliseconds kAdminTimeout = 5s;
// Re-creating our topic blocks the bus thread: shorter. If the cluster completes the creation
// later, the next check finds the topic.
constexpr milliseconds kRecreateTimeout = 2s;
constexpr milliseconds kFlushTimeout = 1s;
constexpr milliseconds kConsumerDestroyTimeout = 2s;
// A notification older than this is worthless: the store has the entry, the catch-up sends it.
constexpr int kMessageTimeoutMs = 10'000;
constexpr milliseconds kWarnPeriod = 10s;

int to_int_ms(milliseconds ms) {
  return static_cast<int>(std::clamp<int64_t>(ms.count(), 0, 24LL * 3600 * 1000));
}

std::string seconds_text(milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

bool legal_in_topic(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Failures that say the record or its destination is refused, not that the cluster is out of
// reach: a dead instance's deleted topic, a record too large. They do not start a recovery.
bool is_refusal(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__FATAL:
      return true;
    default:
      return false;
  }
}

// What a metadata request for our topic found.
struct TopicCheck {
  enum class State { unreachable, missing, exists, unusable };
  State state = State::unreachable;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;  // why, unless exists
};

// Blocks up to `timeout`. Asked on the producer's handle: a broker answers the requests of one
// connection in order, and the consumer's connection is mostly waiting on a fetch (up to
// fetch.wait.max.ms, 500 ms), which would delay the answer by as much.
TopicCheck check_topic(rd_kafka_t* producer, const std::string& name, milliseconds timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer, name.c_str(), nullptr);
  if (!rkt) return {TopicCheck::State::unusable, rd_kafka_last_error()};
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(producer, 0, rkt, &md, to_int_ms(timeout));
  rd_kafka_topic_destroy(rkt);
  if (err) return {TopicCheck::State::unreachable, err};
  TopicCheck result{TopicCheck::State::missing, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART};
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (name != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (!t.err && t.partition_cnt == 0))
      result = {TopicCheck::State::missing, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART};
    else if (t.err)
      result = {TopicCheck::State::unusable, t.err};  // e.g. no leader yet, just after creation
    else
      result = {TopicCheck::State::exists, RD_KAFKA_RESP_ERR_NO_ERROR};
  }
  rd_kafka_metadata_destroy(md);
  return result;
}

// Runs one Admin request on `rk` and waits for its result (bounded by `timeout` plus a margin).
// `start` issues the request on the queue; `topic_error` reads the per-topic outcome.
template <typename Start, typename TopicError>
rd_kafka_resp_err_t run_admin(rd_kafka_t* rk, rd_kafka_admin_op_t op, milliseconds timeout,
                              std::string& why, Start start, TopicError topic_error) {
  char errstr[512] = "";
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, op);
  rd_kafka_AdminOptions_set_request_timeout(options, to_int_ms(timeout), errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_operation_timeout(options, to_int_ms(timeout / 2), errstr,
                                              sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  start(options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, to_int_ms(timeout + 1s));
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  why = "no answer";
  if (event) {
    err = rd_kafka_event_error(event);
    if (err) {
      why = rd_kafka_event_error_string(event);
    } else {
      err = topic_error(event, why);
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  return err;
}

rd_kafka_resp_err_t topic_result_error(const rd_kafka_topic_result_t** topics, size_t count,
                                       std::string& why) {
  if (count < 1) {
    why = "an empty answer";
    return RD_KAFKA_RESP_ERR__BAD_MSG;
  }
  const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[0]);
  const char* message = rd_kafka_topic_result_error_string(topics[0]);
  why = message ? message : rd_kafka_err2str(err);
  return err;
}

// One partition (the bus reads partition 0 only); the cluster's default replication factor
// (-1, KIP-464: CreateTopics v4, which librdkafka 2.0.2 sends and Kafka 2.4+ accepts).
rd_kafka_resp_err_t create_topic(rd_kafka_t* rk, const std::string& topic, milliseconds timeout,
                                 std::string& why) {
  char errstr[512] = "";
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), 1, -1, errstr, sizeof errstr);
  if (!new_topic) {
    why = errstr;
    return RD_KAFKA_RESP_ERR__INVALID_ARG;
  }
  const rd_kafka_resp_err_t err = run_admin(
      rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, why,
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_CreateTopics(rk, &new_topic, 1, options, queue);
      },
      [](rd_kafka_event_t* event, std::string& why) {
        size_t count = 0;
        const rd_kafka_topic_result_t** topics =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        return topic_result_error(topics, count, why);
      });
  rd_kafka_NewTopic_destroy(new_topic);
  return err;
}

rd_kafka_resp_err_t delete_topic(rd_kafka_t* rk, const std::string& topic, milliseconds timeout,
                                 std::string& why) {
  rd_kafka_DeleteTopic_t* target = rd_kafka_DeleteTopic_new(topic.c_str());
  const rd_kafka_resp_err_t err = run_admin(
      rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout, why,
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_DeleteTopics(rk, &target, 1, options, queue);
      },
      [](rd_kafka_event_t* event, std::string& why) {
        size_t count = 0;
        const rd_kafka_topic_result_t** topics =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), &count);
        return topic_result_error(topics, count, why);
      });
  rd_kafka_DeleteTopic_destroy(target);
  return err;
}

rd_kafka_resp_err_t assign(rd_kafka_t* consumer, const std::string& topic, int64_t offset) {
  rd_kafka_topic_partition_list_t* partitions = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(partitions, topic.c_str(), 0)->offset = offset;
  // Drop the old assignment first: a partition that is assigned again in the same call may
  // keep its old fetch position.
  rd_kafka_assign(consumer, nullptr);
  const rd_kafka_resp_err_t err = rd_kafka_assign(consumer, partitions);
  rd_kafka_topic_partition_list_destroy(partitions);
  return err;
}

void log_from_librdkafka(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  // syslog levels. librdkafka reports every failed connection at LOG_ERR; while Kafka is down
  // that is expected, and the bus says so once itself.
  const log::Level ours = level <= 4   ? log::Level::warn
                          : level <= 6 ? log::Level::info
                                       : log::Level::debug;
  log::at(ours, "kafka: ", rd_kafka_name(rk), ": ", facility, ": ", text);
}

// The tail of a rate-limited warning: how many like it were left out.
std::string left_out_text(uint64_t left_out) {
  return left_out ? " (and " + std::to_string(left_out) + " more since the last report)" : "";
}

void sleep_until_at_most(SteadyClock::time_point deadline, milliseconds pause) {
  const auto until = std::min(deadline, SteadyClock::now() + pause);
  std::this_thread::sleep_until(until);
}

}  // namespace

std::string KafkaBus::topic_for(const std::string& prefix, const std::string& node_id) {
  // Kafka allows [a-zA-Z0-9._-] and at most 249 characters. Anything else becomes '_', and a
  // longer name is cut. So two node ids that differ only in such characters (or after the
  // 249th) share a topic: node ids must stay distinct after this mapping. Kafka also refuses
  // a topic whose name differs from an existing one only in '.' versus '_'.
  std::string name = prefix + ".node." + node_id;
  for (char& c : name)
    if (!legal_in_topic(c)) c = '_';
  if (name.size() > 249) name.resize(249);
  return name;
}

// The state of one bus, owned by its KafkaBus. Members marked "bus thread" are touched only by
// the bus thread, or by start()/stop() while that thread does not run: librdkafka calls the
// callbacks below (delivery reports, errors) only from the threads that poll its queues, which
// are the bus thread and stop() once it has joined it. The log callback may run on any of
// librdkafka's threads and touches nothing here.
struct KafkaBus::Impl {
  explicit Impl(KafkaOptions o)
      : options(std::move(o)), topic(topic_for(options.topic_prefix, options.node_id)) {}

  const KafkaOptions options;
  const std::string topic;  // this instance's

  Handler handler;  // set once by subscribe(), before use
  std::atomic<bool> has_handler{false};
  std::function<void()> on_recovered;  // set before start()

  std::mutex lifecycle;  // serializes start() and stop()
  bool running = false;  // guarded by lifecycle
  std::thread thread;
  std::atomic<std::thread::id> bus_thread{};  // to refuse stop() from a handler
  std::atomic<bool> stopping{false};

  // publish() and delete_topic_of() use the producer under a shared lock; stop() and the
  // replacement of a failed producer swap it under the exclusive lock.
  mutable std::shared_mutex clients_mutex;
  rd_kafka_t* producer = nullptr;  // guarded by clients_mutex (written by the bus thread)
  rd_kafka_t* consumer = nullptr;  // bus thread

  // The consumer's broker sockets (librdkafka opens and closes them through our callbacks), so that
  // a recovery can cut them: see cut_consumer_connections().
  std::mutex consumer_sockets_mutex;
  std::set<int> consumer_sockets;  // guarded by consumer_sockets_mutex

  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> publish_failures{0};
  std::atomic<Health> health{Health::stopped};  // written by the bus thread, start(), stop()

  // Bus thread.
  bool active = false;  // the bus thread runs: faults change the state below only then
  bool contact_lost = false;
  bool topic_missing = false;
  std::string suspicion;  // the first signal since the last check that something is wrong
  int64_t position = 0;   // the offset of our topic to read next
  SteadyClock::time_point last_check{};
  SteadyClock::time_point next_check{};
  std::atomic<bool> producer_failed{false};  // set by the error callback

  // Rate limits of warnings that can repeat with every record.
  LogLimiter failure_log{kWarnPeriod};
  LogLimiter record_log{kWarnPeriod};
  LogLimiter error_log{kWarnPeriod};
  LogLimiter recovery_log{kWarnPeriod};

  // ---------------------------------------------------------------- clients

  bool configure(rd_kafka_conf_t* conf, const char* key, const std::string& value,
                 std::string& error) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value.c_str(), errstr, sizeof errstr) == RD_KAFKA_CONF_OK)
      return true;
    error = std::string(key) + ": " + errstr;
    return false;
  }

  rd_kafka_t* make_client(rd_kafka_type_t type, std::string& error) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::vector<std::pair<std::string, std::string>> settings{
        {"bootstrap.servers", options.brokers},
        {"client.id", "chat-engine." + options.node_id},
        // librdkafka reconnects by itself; the default back-off (up to 10 s) makes recovery slow.
        {"reconnect.backoff.max.ms", "1000"},
        // Only start() creates topics (with one partition). A record for a dead instance's
        // deleted topic must not bring it back with the broker's defaults.
        {"allow.auto.create.topics", "false"},
        // A topic never seen before is declared missing after 5 s instead of 30, so that a
        // record for a deleted topic fails as such before its 10 s are up.
        {"topic.metadata.propagation.max.ms", "5000"},
    };
    if (type == RD_KAFKA_PRODUCER) {
      settings.insert(settings.end(),
                      {
                          {"acks", "all"},
                          {"enable.idempotence", "true"},
                          {"linger.ms", std::to_string(options.linger.count())},
                          {"message.timeout.ms", std::to_string(kMessageTimeoutMs)},
                          // 10 s of notifications at a rate far above what one instance sends;
                          // past this a record is refused and counted, never waited for.
                          {"queue.buffering.max.messages", "100000"},
                          {"queue.buffering.max.kbytes", "65536"},
                      });
    } else {
      settings.insert(settings.end(),
                      {
                          // librdkafka 2.0.2's assign() needs a group id. The group is never
                          // joined (no subscribe()) and nothing is committed.
                          {"group.id", topic},
                          {"enable.auto.commit", "false"},
                          {"enable.auto.offset.store", "false"},
                          // An offset out of range means the topic was re-created or trimmed
                          // under us: the bus decides where to read (resume_offset.h).
                          {"auto.offset.reset", "error"},
                      });
    }
    settings.insert(settings.end(), options.properties.begin(), options.properties.end());
    for (const auto& [key, value] : settings) {
      if (!configure(conf, key.c_str(), value, error)) {
        rd_kafka_conf_destroy(conf);
        return nullptr;
      }
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_log_cb(conf, log_from_librdkafka);
    rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t* rk, int err, const char* reason, void* self) {
      static_cast<Impl*>(self)->on_client_error(rk, static_cast<rd_kafka_resp_err_t>(err), reason);
    });
    if (type == RD_KAFKA_CONSUMER) {
      rd_kafka_conf_set_socket_cb(conf, [](int domain, int type, int protocol, void* self) {
        return static_cast<Impl*>(self)->open_consumer_socket(domain, type, protocol);
      });
      rd_kafka_conf_set_closesocket_cb(conf, [](int fd, void* self) {
        return static_cast<Impl*>(self)->close_consumer_socket(fd);
      });
    }
    if (type == RD_KAFKA_PRODUCER) {
      rd_kafka_conf_set_dr_msg_cb(conf,
                                  [](rd_kafka_t*, const rd_kafka_message_t* message, void* self) {
                                    static_cast<Impl*>(self)->on_delivery(*message);
                                  });
    }
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
      rd_kafka_conf_destroy(conf);
      error = errstr;
    }
    return rk;
  }

  // librdkafka's own way of opening a socket, remembering it.
  int open_consumer_socket(int domain, int type, int protocol) {
    std::lock_guard lock(consumer_sockets_mutex);
    const int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0) consumer_sockets.insert(fd);
    return fd;
  }

  int close_consumer_socket(int fd) {
    std::lock_guard lock(consumer_sockets_mutex);  // no cut may reach the descriptor once closed
    consumer_sockets.erase(fd);
    return ::close(fd);
  }

  // After an outage, the consumer's connection may have survived it with a fetch in flight whose
  // answer was lost in the cut: librdkafka keeps one fetch in flight per broker and waits for
  // it, and the broker's TCP resends the answer only when its back-off, grown during the
  // outage, runs out (tens of seconds). Shutting the sockets down makes librdkafka reconnect and
  // fetch again at once. (It opens its sockets itself, so this is the only way to reach them.)
  void cut_consumer_connections() {
    std::lock_guard lock(consumer_sockets_mutex);
    for (const int fd : consumer_sockets) ::shutdown(fd, SHUT_RDWR);
    if (!consumer_sockets.empty())
      log::info("kafka: reconnecting the consumer (", consumer_sockets.size(),
                " connection(s)), so that no fetch lost in the outage holds it up");
  }

  // Waits up to `timeout` for what is queued, then drops the rest (counted by its reports).
  void flush_and_destroy_producer(rd_kafka_t* rk, milliseconds timeout) {
    if (rd_kafka_flush(rk, to_int_ms(timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::warn("kafka: dropping ", rd_kafka_outq_len(rk), " records not acknowledged within ",
                seconds_text(timeout));
      rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(rk, 100);  // serves the purged records' reports
    }
    rd_kafka_destroy(rk);
  }

  void destroy_consumer(rd_kafka_t* rk) {
    if (!rk) return;
    rd_kafka_consumer_close(rk);  // may call our callbacks: on this thread, while we exist
    // librdkafka 2.0.2 cannot always finish destroying a consumer whose partition was deleted
    // while it read it (a reference cycle through the partition's queue, fixed in 2.6.1:
    // librdkafka#4724): rd_kafka_destroy() then never returns. Give it a bounded time and
    // leave the rest to the process's exit. After the close above it calls none of our
    // callbacks that use `this` (the log callback does not).
    auto destroyed = std::make_shared<std::promise<void>>();
    std::future<void> done = destroyed->get_future();
    std::thread([rk, destroyed] {
      rd_kafka_destroy(rk);
      destroyed->set_value();
    }).detach();
    if (done.wait_for(kConsumerDestroyTimeout) == std::future_status::timeout)
      log::warn("kafka: the consumer of ", topic, " did not shut down within ",
                seconds_text(kConsumerDestroyTimeout),
                " (librdkafka 2.0.2 after its topic was deleted); leaving it to the exit");
  }

  // ---------------------------------------------------------------- start

  Status start() {
    std::lock_guard lock(lifecycle);
    if (running) return make_error(Errc::internal, "kafka: the bus is already started");
    const auto deadline = SteadyClock::now() + options.start_timeout;
    const std::string within = " within " + seconds_text(options.start_timeout);

    std::string error;
    rd_kafka_t* new_producer = make_client(RD_KAFKA_PRODUCER, error);
    if (!new_producer) return make_error(Errc::internal, "kafka: producer: " + error);
    rd_kafka_t* new_consumer = make_client(RD_KAFKA_CONSUMER, error);
    if (!new_consumer) {
      rd_kafka_destroy(new_producer);
      return make_error(Errc::internal, "kafka: consumer: " + error);
    }
    rd_kafka_poll_set_consumer(new_consumer);  // its errors and logs come with its records
    auto fail = [&](Errc code, std::string message) {
      destroy_consumer(new_consumer);
      rd_kafka_destroy(new_producer);
      return make_error(code, std::move(message));
    };

    // 1. The cluster answers and our topic exists (a restarted instance reuses its topic).
    bool reached = false;
    bool exists = false;
    std::string last_error = "no attempt";
    while (!exists) {
      const auto remaining =
          std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
      if (remaining <= 0ms) break;
      const TopicCheck check = check_topic(new_producer, topic, remaining);
      switch (check.state) {
        case TopicCheck::State::unreachable:
          last_error = rd_kafka_err2str(check.err);
          break;
        case TopicCheck::State::exists:
          reached = exists = true;
          continue;
        case TopicCheck::State::missing: {
          reached = true;
          std::string why;
          const rd_kafka_resp_err_t err =
              create_topic(new_producer, topic, std::min(remaining, kAdminTimeout), why);
          if (!err) log::info("kafka: created topic ", topic);
          // Created or not, look again: metadata may lag behind creation.
          if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            last_error = "creating it: " + why;
          break;
        }
        case TopicCheck::State::unusable:
          reached = true;
          last_error = rd_kafka_err2str(check.err);
          break;
      }
      sleep_until_at_most(deadline, 200ms);
    }
    if (!reached)
      return fail(Errc::unavailable,
                  "kafka: cannot reach " + options.brokers + within + ": " + last_error);
    if (!exists)
      return fail(Errc::unavailable,
                  "kafka: topic " + topic + " is not usable" + within + ": " + last_error);

    // 2. Fix where to read: the end of the topic now. What was sent to this instance while it
    //    was down is in the store, and the instance starts with no connections anyway.
    int64_t low = 0;
    int64_t high = -1;
    for (;;) {
      const auto remaining =
          std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
      const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
          new_producer, topic.c_str(), 0, &low, &high, to_int_ms(std::max(remaining, 1ms)));
      if (!err) break;
      if (SteadyClock::now() >= deadline)
        return fail(Errc::unavailable, "kafka: cannot read the end of topic " + topic + within +
                                           ": " + rd_kafka_err2str(err));
      sleep_until_at_most(deadline, 200ms);
    }
    if (const rd_kafka_resp_err_t err = assign(new_consumer, topic, high))
      return fail(Errc::internal,
                  "kafka: cannot assign topic " + topic + ": " + rd_kafka_err2str(err));

    {
      std::unique_lock clients(clients_mutex);
      producer = new_producer;
    }
    consumer = new_consumer;
    position = high;
    contact_lost = topic_missing = false;
    next_check = SteadyClock::now() + kCheckInterval;
    health = Health::ok;
    stopping = false;
    running = active = true;
    thread = std::thread([this] { run(); });
    log::info("kafka: reading topic ", topic, " from offset ", high, " at ", options.brokers);
    return Ok{};
  }

  // ---------------------------------------------------------------- stop

  void stop() {
    if (std::this_thread::get_id() == bus_thread.load()) {
      log::error("kafka: stop() called from the bus's own thread (a handler); ignored");
      return;
    }
    std::lock_guard lock(lifecycle);
    if (!running) return;
    stopping = true;
    thread.join();
    running = active = false;
    rd_kafka_t* old_producer = nullptr;
    {
      std::unique_lock clients(clients_mutex);
      old_producer = std::exchange(producer, nullptr);
    }
    flush_and_destroy_producer(old_producer, kFlushTimeout);
    destroy_consumer(std::exchange(consumer, nullptr));
    health = Health::stopped;
  }

  // ---------------------------------------------------------------- publish

  void publish(const Event& event, const Nodes& nodes) {
    if (has_handler.load(std::memory_order_acquire)) handler(event);
    std::vector<const std::string*> destinations;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string& node = nodes[i];
      if (node == options.node_id) continue;
      if (std::find(nodes.begin(), nodes.begin() + static_cast<std::ptrdiff_t>(i), node) !=
          nodes.begin() + static_cast<std::ptrdiff_t>(i))
        continue;  // one record per instance
      destinations.push_back(&node);
    }
    if (destinations.empty()) return;

    const std::string value = encode_event(event);
    const std::string& key = recipient_of(event);
    std::shared_lock clients(clients_mutex);
    for (const std::string* node : destinations) {
      const std::string destination = topic_for(options.topic_prefix, *node);
      if (!producer) {
        count_failure(destination, "the bus is not running");
        continue;
      }
      // A topic handle of our own rather than RD_KAFKA_V_TOPIC: only rd_kafka_topic_new() asks
      // for a new topic's leader at once; otherwise the first record to an instance waits for
      // librdkafka's once-a-second scan. (It costs what producev() does with a name: a lookup.)
      rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer, destination.c_str(), nullptr);
      if (!rkt) {
        count_failure(destination, rd_kafka_err2str(rd_kafka_last_error()));
        continue;
      }
      // Partition 0: the topic has one, and it is the one its instance reads.
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(0),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
      rd_kafka_topic_destroy(rkt);
      if (err) count_failure(destination, rd_kafka_err2str(err));
    }
  }

  // Any thread. A record that is not handed over is the catch-up's to heal, never the
  // publisher's problem.
  void count_failure(std::string_view destination, std::string_view why) {
    publish_failures.fetch_add(1, std::memory_order_relaxed);
    if (const auto left_out = failure_log.admit()) {
      log::warn("kafka: dropped a record for ", destination, ": ", why, left_out_text(*left_out));
    }
  }

  Status delete_topic_of(const std::string& node_id) {
    const std::string target = topic_for(options.topic_prefix, node_id);
    if (target == topic)
      return make_error(Errc::internal, "kafka: refusing to delete this instance's own topic");
    std::shared_lock clients(clients_mutex);
    if (!producer) return make_error(Errc::unavailable, "kafka: the bus is not running");
    std::string why;
    const rd_kafka_resp_err_t err = delete_topic(producer, target, kAdminTimeout, why);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return Ok{};
    if (err)
      return make_error(Errc::unavailable, "kafka: cannot delete topic " + target + ": " + why);
    log::info("kafka: deleted topic ", target);
    return Ok{};
  }

  // ---------------------------------------------------------------- the bus thread

  void run() {
    pthread_setname_np(pthread_self(), "chat-kafka");
    bus_thread = std::this_thread::get_id();
    while (!stopping.load(std::memory_order_relaxed)) {
      if (producer_failed.exchange(false)) replace_producer();
      rd_kafka_poll(producer, 0);  // delivery reports and the producer's errors
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, to_int_ms(kPollTimeout));
      for (int n = 0; message;) {
        on_record(*message);
        rd_kafka_message_destroy(message);
        if (++n == kMaxRecordsPerTurn || stopping.load(std::memory_order_relaxed)) break;
        message = rd_kafka_consumer_poll(consumer, 0);
      }
      if (SteadyClock::now() >= next_check) check();
    }
  }

  void on_record(const rd_kafka_message_t& message) {
    if (message.err) {
      on_consumer_error(message);
      return;
    }
    if (message.rkt != nullptr && topic != rd_kafka_topic_name(message.rkt)) return;
    position = message.offset + 1;
    if (contact_lost) check_soon();  // it may be back: confirm
    const std::string_view value(static_cast<const char*>(message.payload), message.len);
    Result<Event> event = decode_event(value);
    if (!event) {
      if (const auto left_out = record_log.admit())
        log::warn("kafka: skipped record ", message.offset, " of ", topic, ": ",
                  event.error().message, left_out_text(*left_out));
      return;
    }
    if (!has_handler.load(std::memory_order_acquire)) return;
    consumed.fetch_add(1, std::memory_order_relaxed);
    try {
      handler(*event);
    } catch (const std::exception& e) {
      log::error("kafka: the bus handler threw: ", e.what());
    }
  }

  void on_consumer_error(const rd_kafka_message_t& message) {
    const std::string_view about = message.rkt ? rd_kafka_topic_name(message.rkt) : "";
    const char* reason = rd_kafka_message_errstr(&message);
    switch (message.err) {
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return;
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        if (about.empty() || about == topic) suspect(reason);
        return;
      case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
        // Not a suspicion: the consumer has stopped reading the partition until it is assigned
        // again. The topic was re-created or trimmed under us.
        lose_topic(std::string("the offset to read is out of range: ") + reason);
        return;
      case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      case RD_KAFKA_RESP_ERR__TRANSPORT:
        suspect(reason);
        return;
      default:
        if (const auto left_out = error_log.admit())
          log::warn("kafka: consumer: ", reason, left_out_text(*left_out));
    }
  }

  // The producer's delivery reports, on the bus thread (and in stop(), once it has joined it).
  void on_delivery(const rd_kafka_message_t& message) {
    if (!message.err) {
      published.fetch_add(1, std::memory_order_relaxed);
      if (contact_lost) check_soon();  // it may be back: confirm
      return;
    }
    if (!is_refusal(message.err)) suspect(rd_kafka_err2str(message.err));
    const std::string_view destination = message.rkt ? rd_kafka_topic_name(message.rkt) : "?";
    count_failure(destination, rd_kafka_err2str(message.err));
  }

  // Both clients' errors, on the thread that polls them. librdkafka retries by itself; these
  // only tell the bus that contact is gone (or that the producer cannot go on).
  void on_client_error(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason) {
    switch (err) {
      case RD_KAFKA_RESP_ERR__FATAL: {
        char why[512] = "";
        rd_kafka_fatal_error(rk, why, sizeof why);
        log::error("kafka: ", rd_kafka_name(rk), " failed for good: ", why);
        if (rk != consumer) producer_failed = true;
        return;
      }
      case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        suspect(reason);
        return;
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        // The consumer reads our topic only: librdkafka says so when the topic or its partition
        // disappears from the cluster's metadata ("desired partition is no longer available").
        if (rk == consumer) {
          suspect(reason);
          return;
        }
        break;
      case RD_KAFKA_RESP_ERR__TRANSPORT:
      case RD_KAFKA_RESP_ERR__RESOLVE:
        // One broker; librdkafka logs it and reconnects. All of them: ALL_BROKERS_DOWN follows.
        return;
      default:
        break;
    }
    if (const auto left_out = error_log.admit())
      log::warn("kafka: ", rd_kafka_name(rk), ": ", reason, left_out_text(*left_out));
  }

  // At once, but not more often than kMinCheckSpacing: a burst of failed records asks once.
  void check_soon() {
    next_check = std::min(next_check, std::max(SteadyClock::now(), last_check + kMinCheckSpacing));
  }

  // Errors and failed records say that contact or our topic may be gone; only the check says
  // that they are. A signal can arrive late (a client that noticed the outage after its twin, a
  // record that timed out during it): taken at its word after a recovery, it would report a
  // second recovery for the same outage.
  void suspect(std::string_view reason) {
    if (!active) return;  // start() failing, or stop() closing the clients
    if (suspicion.empty()) suspicion = reason;
    check_soon();
  }

  void update_health() {
    health = topic_missing  ? Health::topic_missing
             : contact_lost ? Health::contact_lost
                            : Health::ok;
  }

  void lose_contact(std::string_view reason) {
    if (!active) return;
    if (!contact_lost) {
      contact_lost = true;
      log::warn("kafka: lost contact with ", options.brokers, ": ", reason,
                "; records for other instances are dropped until it is back");
      update_health();
    }
    next_check = std::min(next_check, SteadyClock::now() + kDegradedCheckInterval);
  }

  void lose_topic(std::string_view reason) {
    if (!active) return;
    if (!topic_missing) {
      topic_missing = true;
      log::warn("kafka: lost topic ", topic, ": ", reason);
      update_health();
    }
    check_soon();
  }

  // Is the cluster there, and our topic? Blocks the bus thread up to kCheckTimeout (plus an
  // Admin request while the topic is missing), which only happens every few seconds or while
  // nothing flows anyway.
  void check() {
    const TopicCheck result = check_topic(producer, topic, kCheckTimeout);
    last_check = SteadyClock::now();
    const std::string after = suspicion.empty() ? "" : " (after: " + suspicion + ")";
    suspicion.clear();
    bool healthy = false;
    switch (result.state) {
      case TopicCheck::State::unreachable:
        lose_contact(rd_kafka_err2str(result.err) + after);
        break;
      case TopicCheck::State::missing:
        lose_topic("the cluster does not know it" + after);
        healthy = recreate_topic();
        break;
      case TopicCheck::State::exists:
        healthy = !topic_missing || read_topic_again();
        break;
      case TopicCheck::State::unusable:
        if (const auto left_out = recovery_log.admit())
          log::warn("kafka: topic ", topic, ": ", rd_kafka_err2str(result.err),
                    left_out_text(*left_out));
        break;
    }
    if (!healthy) {
      next_check = SteadyClock::now() + kDegradedCheckInterval;
      return;
    }
    next_check = SteadyClock::now() + kCheckInterval;
    if (!contact_lost && !topic_missing) return;
    contact_lost = topic_missing = false;
    update_health();
    log::info("kafka: the cluster and topic ", topic, " are back");
    cut_consumer_connections();
    if (!on_recovered) return;
    try {
      on_recovered();
    } catch (const std::exception& e) {
      log::error("kafka: the recovery callback threw: ", e.what());
    }
  }

  bool recreate_topic() {
    std::string why;
    const rd_kafka_resp_err_t err = create_topic(producer, topic, kRecreateTimeout, why);
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return read_topic_again();
    if (err) {
      if (const auto left_out = recovery_log.admit())
        log::warn("kafka: cannot re-create topic ", topic, ": ", why, "; trying again",
                  left_out_text(*left_out));
      return false;
    }
    // Ours, so new: all it holds was sent after we lost the old one.
    if (const rd_kafka_resp_err_t assigned = assign(consumer, topic, RD_KAFKA_OFFSET_BEGINNING)) {
      log::warn("kafka: cannot assign topic ", topic, ": ", rd_kafka_err2str(assigned));
      return false;
    }
    position = 0;
    log::info("kafka: re-created topic ", topic, " and read it from its beginning");
    return true;
  }

  // The topic is there (again): someone re-created it, or it never went away. Read on from
  // where we were if the topic still holds that offset, else from its beginning.
  bool read_topic_again() {
    int64_t low = 0;
    int64_t high = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        producer, topic.c_str(), 0, &low, &high, to_int_ms(kCheckTimeout));
    if (err) return false;
    const int64_t from = resume_offset(position, low, high);
    if (const rd_kafka_resp_err_t assigned = assign(consumer, topic, from)) {
      log::warn("kafka: cannot assign topic ", topic, ": ", rd_kafka_err2str(assigned));
      return false;
    }
    if (from != position)
      log::warn("kafka: topic ", topic, " holds offsets ", low, " to ", high, ", not ", position,
                ": it was re-created or trimmed; reading it from ", from);
    position = from;
    return true;
  }

  // A producer that raised a fatal error produces nothing more: replace it. Its records are
  // reported as failed; the recovery that follows lets every instance catch up.
  void replace_producer() {
    std::string error;
    rd_kafka_t* fresh = make_client(RD_KAFKA_PRODUCER, error);
    if (!fresh) {
      log::error("kafka: cannot create a new producer: ", error);
      producer_failed = true;
      return;
    }
    rd_kafka_t* old = nullptr;
    {
      std::unique_lock clients(clients_mutex);
      old = std::exchange(producer, fresh);
    }
    rd_kafka_purge(old, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    flush_and_destroy_producer(old, 100ms);
    log::info("kafka: replaced the failed producer");
    lose_contact("the producer failed");
  }
};

KafkaBus::KafkaBus(KafkaOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

KafkaBus::~KafkaBus() { stop(); }

void KafkaBus::on_recovered(std::function<void()> callback) {
  impl_->on_recovered = std::move(callback);
}

Status KafkaBus::start() { return impl_->start(); }

void KafkaBus::stop() { impl_->stop(); }

Status KafkaBus::delete_topic_of(const std::string& node_id) {
  return impl_->delete_topic_of(node_id);
}

KafkaBus::Health KafkaBus::health() const { return impl_->health.load(); }

void KafkaBus::subscribe(Handler handler) {
  impl_->handler = std::move(handler);
  impl_->has_handler.store(true, std::memory_order_release);
}

void KafkaBus::publish(Event event, const Nodes& nodes) { impl_->publish(event, nodes); }

BusStats KafkaBus::stats() const {
  return BusStats{
      .published = impl_->published.load(std::memory_order_relaxed),
      .consumed = impl_->consumed.load(std::memory_order_relaxed),
      .publish_failures = impl_->publish_failures.load(std::memory_order_relaxed),
  };
}

}  // namespace chat::bus
