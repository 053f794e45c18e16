#include "bus/kafka/kafka_bus.h"

// clang-format off: rdkafka_mock.h must follow rdkafka.h
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/overloaded.h"

// The Kafka bus against librdkafka 2.0.2's mock cluster (one per test, shared by its instances
// through bootstrap.servers). What the mock does differently, and how the tests deal with it:
//   - no CreateTopics/DeleteTopics (the requests wait for a controller that does not exist):
//     topics are made with rd_kafka_mock_topic_create before the instance starts, as an
//     operator would, and the bus finds its topic there;
//   - it speaks Metadata v0-2 only, so it creates any topic a metadata request names;
//   - no topic deletion: a deleted topic is a topic error in its metadata
//     (rd_kafka_mock_topic_set_error), lifted again once the bus has noticed;
//   - it answers an empty fetch only after the whole fetch.wait.max.ms: the instances wait 10 ms.
namespace chat::bus {
namespace {

using namespace std::chrono_literals;

// Far above what any condition below needs (milliseconds, or about a second for librdkafka to
// notice a fault), so that a slow machine does not fail a test.
constexpr auto kPatience = 30s;
constexpr int kProduceApi = 0;  // Kafka protocol ApiKeys
constexpr int kFetchApi = 1;
constexpr int kInitProducerIdApi = 22;

// Polls `condition` until it holds or `timeout` passes: the pause is the polling interval of a
// condition, never a stand-in for the event itself.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = kPatience) {
  const auto deadline = SteadyClock::now() + timeout;
  while (!condition()) {
    if (SteadyClock::now() >= deadline) return condition();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string describe(const Event& event) {
  return std::visit(Overloaded{
                        [](const Delivery& d) {
                          return "delivery " + d.entry.owner + " " + std::to_string(d.entry.seq);
                        },
                        [](const Typing& t) { return "typing " + t.from + ">" + t.to; },
                        [](const UserDeleted& u) { return "deleted " + u.username; },
                    },
                    event);
}

// "<prefix><n>". (GCC 12 warns, wrongly, about "literal" + std::to_string() here: -Wrestrict.)
std::string numbered(std::string prefix, uint64_t n) { return prefix.append(std::to_string(n)); }

Event entry(const std::string& owner, uint64_t seq) {
  return Delivery{store::InboxEntry{.owner = owner,
                                    .seq = seq,
                                    .msg_id = numbered("m", seq),
                                    .from = "alice",
                                    .to = owner,
                                    .body = numbered("body ", seq),
                                    .ts = 1'700'000'000'000}};
}

Event typing(const std::string& to) { return Typing{.from = "alice", .to = to}; }

std::string topic_of(const std::string& node) { return KafkaBus::topic_for("test", node); }

// A mock cluster that outlives the buses of a test. Its brokers listen on loopback ports; the
// buses reach it through bootstrap.servers like any cluster. Two brokers, so that a fault can be
// aimed at one instance: the topic of "a" is led by broker 1, every other topic by broker 2.
class MockCluster {
 public:
  MockCluster() {
    char errstr[512];
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
    if (!handle_) throw std::runtime_error(errstr);
    cluster_ = rd_kafka_mock_cluster_new(handle_, 2);
    if (!cluster_) throw std::runtime_error("no mock cluster");
  }
  // Takes about a second: the mock's thread notices the end on its next 1 s poll.
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  rd_kafka_mock_cluster_t* get() const { return cluster_; }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  static int leader_of(const std::string& node) { return node == "a" ? 1 : 2; }

  void create_topic_of(const std::string& node) {
    const std::string topic = topic_of(node);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, topic.c_str(), 1, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), 0, leader_of(node)),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Writes `value` into the topic of `node` as a foreign producer would, and waits for the ack.
  void produce_raw(const std::string& node, const std::string& value) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps().c_str(), errstr, sizeof errstr);
    rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    ASSERT_NE(producer, nullptr) << errstr;
    const std::string topic = topic_of(node);
    EXPECT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(rd_kafka_flush(producer, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);
  }

  // The next request of `api` to `broker` fails with `err`.
  void fail_next_request(int broker, int api, rd_kafka_resp_err_t err) {
    ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(cluster_, broker,
                                                           static_cast<int16_t>(api), 1, err, 0),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Waits until `broker` has served one more fetch. A consumer fetches from one broker one
  // request at a time, so the answer to that fetch is processed before the next one is sent.
  // Needed before a fetch error is injected: librdkafka replaces the error of the first answer
  // that reaches the end of the partition with its own end-of-partition event (the mock
  // answers an error with the partition's real end offset), and the injected error is lost.
  void wait_for_a_fetch(int broker) {
    fail_next_request(broker, kFetchApi, RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_TRUE(eventually([&] {
      size_t pending = 1;
      rd_kafka_mock_broker_error_stack_cnt(cluster_, broker, kFetchApi, &pending);
      return pending == 0;
    }));
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// One instance of the engine as the bus sees it: a KafkaBus whose handler records what it is
// handed, and which counts the recoveries it reports.
class Instance {
 public:
  // The mock answers an empty fetch only after the consumer's whole fetch.wait.max.ms (500 ms by
  // default), even when a record arrives meanwhile; a real broker answers at once.
  static std::vector<std::pair<std::string, std::string>> with_test_defaults(
      std::vector<std::pair<std::string, std::string>> properties) {
    properties.insert(properties.begin(), {"fetch.wait.max.ms", "10"});
    return properties;
  }

  Instance(const MockCluster& cluster, const std::string& node_id,
           std::vector<std::pair<std::string, std::string>> properties)
      : bus_(KafkaOptions{.brokers = cluster.bootstraps(),
                          .topic_prefix = "test",
                          .node_id = node_id,
                          .linger = 2ms,
                          .start_timeout = 20s,
                          .properties = with_test_defaults(std::move(properties))}) {
    bus_.subscribe([this](const Event& event) {
      std::lock_guard lock(mutex_);
      received_.push_back(describe(event));
      changed_.notify_all();
    });
    bus_.on_recovered([this] { ++recoveries_; });
  }

  // The bus thread calls into the members below: it stops before they go.
  ~Instance() { bus_.stop(); }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  KafkaBus& bus() { return bus_; }
  BusStats stats() const { return bus_.stats(); }
  int recoveries() const { return recoveries_; }

  std::vector<std::string> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  // Waits until the handler was handed `count` events in all.
  bool wait_for_received(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return received_.size() >= count; });
  }
  bool has_received(const std::string& what) const {
    std::lock_guard lock(mutex_);
    return std::find(received_.begin(), received_.end(), what) != received_.end();
  }

 private:
  KafkaBus bus_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> received_;  // guarded by mutex_
  std::atomic<int> recoveries_{0};
};

class KafkaBusTest : public testing::Test {
 protected:
  // Creates the instance's topic in the mock (which cannot create topics itself) and starts it.
  std::unique_ptr<Instance> start(
      const std::string& node, std::vector<std::pair<std::string, std::string>> properties = {}) {
    cluster_.create_topic_of(node);
    return start_without_topic(node, std::move(properties));
  }
  std::unique_ptr<Instance> start_without_topic(
      const std::string& node, std::vector<std::pair<std::string, std::string>> properties = {}) {
    auto instance = std::make_unique<Instance>(cluster_, node, std::move(properties));
    const Status started = instance->bus().start();
    EXPECT_TRUE(started.ok()) << started.error().message;
    EXPECT_EQ(instance->bus().health(), KafkaBus::Health::ok);
    return instance;
  }

  MockCluster cluster_;
};

using Received = std::vector<std::string>;

TEST_F(KafkaBusTest, APublishReachesTheOtherInstanceAndThePublishersOwnHandlerAtOnce) {
  auto a = start("a");
  auto b = start("b");

  a->bus().publish(entry("bob", 1), {"b"});
  EXPECT_EQ(a->received(), Received{"delivery bob 1"});  // on the publishing thread, before return

  ASSERT_TRUE(b->wait_for_received(1));
  EXPECT_EQ(b->received(), Received{"delivery bob 1"});
  EXPECT_TRUE(eventually([&] { return a->stats().published == 1; }));
  EXPECT_EQ(b->stats().consumed, 1u);
  EXPECT_EQ(a->stats().publish_failures, 0u);
}

TEST_F(KafkaBusTest, APublishForNoOtherInstanceProducesNoRecord) {
  auto a = start("a");
  auto b = start("b");

  a->bus().publish(typing("nobody-elsewhere"), {});
  a->bus().publish(typing("only-here"), {"a"});
  // A marker after them: once b has it and a has its acknowledgement, a record produced before
  // it would have shown up too.
  a->bus().publish(typing("marker"), {"b"});

  ASSERT_TRUE(b->wait_for_received(1));
  ASSERT_TRUE(eventually([&] { return a->stats().published >= 1; }));
  EXPECT_EQ(b->received(), Received{"typing alice>marker"});
  EXPECT_EQ(a->stats().published, 1u);
  EXPECT_EQ(a->stats().consumed, 0u);
  EXPECT_EQ(b->stats().consumed, 1u);
  EXPECT_EQ(a->received(), (Received{"typing alice>nobody-elsewhere", "typing alice>only-here",
                                     "typing alice>marker"}));
}

TEST_F(KafkaBusTest, StatsCountOneRecordPerDestinationInstance) {
  auto a = start("a");
  auto b = start("b");
  auto c = start("c");

  for (uint64_t seq = 1; seq <= 3; ++seq) a->bus().publish(entry("bob", seq), {"b", "a", "c", "b"});

  ASSERT_TRUE(b->wait_for_received(3));
  ASSERT_TRUE(c->wait_for_received(3));
  EXPECT_TRUE(eventually([&] { return a->stats().published == 6; }));
  EXPECT_EQ(b->stats().consumed, 3u);
  EXPECT_EQ(c->stats().consumed, 3u);
  EXPECT_EQ(a->stats().consumed, 0u);
  EXPECT_EQ(b->stats().published, 0u);
}

TEST_F(KafkaBusTest, RecordsForOneRecipientArriveInPublishOrder) {
  auto a = start("a");
  auto b = start("b");
  constexpr uint64_t kCount = 500;

  Received expected;
  for (uint64_t seq = 1; seq <= kCount; ++seq) {
    a->bus().publish(entry("bob", seq), {"b"});
    expected.push_back("delivery bob " + std::to_string(seq));
  }

  ASSERT_TRUE(b->wait_for_received(kCount));
  EXPECT_EQ(b->received(), expected);
  EXPECT_TRUE(eventually([&] { return a->stats().published == kCount; }));
  EXPECT_EQ(b->stats().consumed, kCount);
}

TEST_F(KafkaBusTest, ABusStartedAfterRecordsWereInItsTopicDoesNotDeliverThem) {
  auto a = start("a");
  cluster_.create_topic_of("c");
  for (uint64_t seq = 1; seq <= 3; ++seq) a->bus().publish(entry("carol", seq), {"c"});
  ASSERT_TRUE(eventually([&] { return a->stats().published == 3; }));

  auto c = start_without_topic("c");
  a->bus().publish(entry("carol", 4), {"c"});

  ASSERT_TRUE(c->wait_for_received(1));
  EXPECT_EQ(c->received(), Received{"delivery carol 4"});
  EXPECT_EQ(c->stats().consumed, 1u);
}

TEST_F(KafkaBusTest, ARecordThatIsNotAnEventIsSkipped) {
  auto a = start("a");
  auto b = start("b");
  cluster_.produce_raw("b", "\x01 not json");
  cluster_.produce_raw("b", R"({"type":"presence","user":"bob"})");
  cluster_.produce_raw("b", R"({"type":"delivery","entry":{"owner":"bob"}})");

  a->bus().publish(typing("bob"), {"b"});

  ASSERT_TRUE(b->wait_for_received(1));
  EXPECT_EQ(b->received(), Received{"typing alice>bob"});
  EXPECT_EQ(b->stats().consumed, 1u);
}

TEST_F(KafkaBusTest, AfterABrokerOutageTheBusReportsTheRecoveryAndDeliversAgain) {
  auto a = start("a");
  auto b = start("b");
  a->bus().publish(typing("before"), {"b"});
  ASSERT_TRUE(b->wait_for_received(1));

  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(eventually([&] {
    return a->bus().health() == KafkaBus::Health::contact_lost &&
           b->bus().health() == KafkaBus::Health::contact_lost;
  }));
  a->bus().publish(typing("during"), {"b"});  // never an error for the publisher
  EXPECT_TRUE(a->has_received("typing alice>during"));
  EXPECT_EQ(a->recoveries(), 0);

  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_.get(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(eventually([&] { return a->recoveries() == 1 && b->recoveries() == 1; }));
  EXPECT_EQ(a->bus().health(), KafkaBus::Health::ok);
  EXPECT_EQ(b->bus().health(), KafkaBus::Health::ok);

  // The record published during the outage is delivered late or counted as a failure.
  EXPECT_TRUE(eventually(
      [&] { return b->has_received("typing alice>during") || a->stats().publish_failures >= 1; }));
  a->bus().publish(typing("after"), {"b"});
  EXPECT_TRUE(eventually([&] { return b->has_received("typing alice>after"); }));
  EXPECT_EQ(a->recoveries(), 1);
  EXPECT_EQ(b->recoveries(), 1);
}

TEST_F(KafkaBusTest, FailedDeliveriesAreCountedAndNeverReachThePublisher) {
  // A record gives up after one second here instead of ten, to keep the test short.
  auto a = start("a", {{"message.timeout.ms", "1000"}});
  auto b = start("b");
  // Every produce request fails (only a produces here): the record is retried until it times out.
  const std::vector<rd_kafka_resp_err_t> errors(1000, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  rd_kafka_mock_push_request_errors_array(cluster_.get(), kProduceApi, errors.size(),
                                          errors.data());

  a->bus().publish(entry("bob", 1), {"b"});
  EXPECT_EQ(a->received(), Received{"delivery bob 1"});

  ASSERT_TRUE(eventually([&] { return a->stats().publish_failures == 1; }));
  EXPECT_EQ(a->stats().published, 0u);

  rd_kafka_mock_clear_request_errors(cluster_.get(), kProduceApi);
  a->bus().publish(entry("bob", 2), {"b"});
  EXPECT_TRUE(eventually([&] { return b->has_received("delivery bob 2"); }));
  EXPECT_FALSE(b->has_received("delivery bob 1"));
  // The cluster answered all along: a failed record alone is no lost contact to recover from.
  EXPECT_EQ(a->bus().health(), KafkaBus::Health::ok);
  EXPECT_EQ(a->recoveries(), 0);
}

TEST_F(KafkaBusTest, ATopicDeletedUnderARunningInstanceIsReadAgainOnceItExists) {
  auto a = start("a");
  auto b = start("b");
  a->bus().publish(entry("bob", 1), {"b"});
  ASSERT_TRUE(b->wait_for_received(1));

  // The topic is gone for the cluster's metadata; a failing fetch makes b's consumer ask now.
  rd_kafka_mock_topic_set_error(cluster_.get(), topic_of("b").c_str(),
                                RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  cluster_.wait_for_a_fetch(MockCluster::leader_of("b"));
  cluster_.fail_next_request(MockCluster::leader_of("b"), kFetchApi,
                             RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  ASSERT_TRUE(eventually([&] { return b->bus().health() == KafkaBus::Health::topic_missing; }));
  EXPECT_EQ(b->recoveries(), 0);

  // The mock cannot create topics: the bus's CreateTopics fails there, and the test brings the
  // topic back in its stead.
  rd_kafka_mock_topic_set_error(cluster_.get(), topic_of("b").c_str(), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(eventually([&] { return b->recoveries() == 1; }));
  EXPECT_EQ(b->bus().health(), KafkaBus::Health::ok);

  a->bus().publish(entry("bob", 2), {"b"});
  ASSERT_TRUE(b->wait_for_received(2));
  EXPECT_EQ(b->received(), (Received{"delivery bob 1", "delivery bob 2"}));  // none twice
}

TEST_F(KafkaBusTest, AFetchOutOfRangeMakesTheBusReadItsTopicAgainAndReportARecovery) {
  // What a consumer sees when its topic was deleted and re-created before it noticed.
  auto a = start("a");
  auto b = start("b");
  a->bus().publish(entry("bob", 1), {"b"});
  ASSERT_TRUE(b->wait_for_received(1));

  cluster_.wait_for_a_fetch(MockCluster::leader_of("b"));
  cluster_.fail_next_request(MockCluster::leader_of("b"), kFetchApi,
                             RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
  ASSERT_TRUE(eventually([&] { return b->recoveries() == 1; }));

  a->bus().publish(entry("bob", 2), {"b"});
  ASSERT_TRUE(b->wait_for_received(2));
  EXPECT_EQ(b->received(), (Received{"delivery bob 1", "delivery bob 2"}));
  EXPECT_EQ(b->bus().health(), KafkaBus::Health::ok);
}

TEST_F(KafkaBusTest, AProducerThatFailedForGoodIsReplaced) {
  auto b = start("b");
  cluster_.create_topic_of("a");
  // b's producer has its producer id once a record of it is acknowledged, so the error below
  // is a's.
  b->bus().publish(typing("x"), {"a"});
  ASSERT_TRUE(eventually([&] { return b->stats().published == 1; }));
  rd_kafka_mock_push_request_errors(cluster_.get(), kInitProducerIdApi, 1,
                                    RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);

  auto a = start_without_topic("a");
  ASSERT_TRUE(eventually([&] { return a->recoveries() == 1; }));
  a->bus().publish(entry("bob", 1), {"b"});
  EXPECT_TRUE(eventually([&] { return b->has_received("delivery bob 1"); }));
}

TEST_F(KafkaBusTest, ABusWhoseTopicDoesNotExistYetStartsAndReceives) {
  // On a real cluster start() creates the topic with CreateTopics. The mock has none, but it
  // creates any topic a metadata request names (it speaks Metadata v0-2 only, which cannot ask
  // it not to): start() finds the topic there.
  auto a = start("a");
  auto z = start_without_topic("z");
  a->bus().publish(typing("zoe"), {"z"});
  ASSERT_TRUE(z->wait_for_received(1));
  EXPECT_EQ(z->received(), Received{"typing alice>zoe"});
}

TEST_F(KafkaBusTest, DeleteTopicOfAnswersAnErrorWhereTheClusterCannotDeleteTopics) {
  auto a = start("a");
  cluster_.create_topic_of("dead");
  const Status deleted = a->bus().delete_topic_of("dead");  // the mock has no DeleteTopics
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, Errc::unavailable);
  EXPECT_NE(deleted.error().message.find("cannot delete topic test.node.dead"), std::string::npos)
      << deleted.error().message;
}

TEST_F(KafkaBusTest, DeleteTopicOfRefusesThisInstancesOwnTopic) {
  auto a = start("a");
  const Status deleted = a->bus().delete_topic_of("a");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, Errc::internal);
}

TEST_F(KafkaBusTest, StopIsIdempotentAndAPublishAfterItReachesOnlyTheLocalHandler) {
  auto a = start("a");
  a->bus().stop();
  a->bus().stop();
  EXPECT_EQ(a->bus().health(), KafkaBus::Health::stopped);

  a->bus().publish(typing("bob"), {"b"});
  EXPECT_EQ(a->received(), Received{"typing alice>bob"});
  EXPECT_EQ(a->stats().publish_failures, 1u);
  EXPECT_FALSE(a->bus().delete_topic_of("b").ok());
}

TEST_F(KafkaBusTest, StopReturnsSoonWhileTheClusterIsDown) {
  auto a = start("a");
  auto b = start("b");
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  a->bus().publish(typing("bob"), {"b"});  // queued, never acknowledged

  const auto stopping_at = SteadyClock::now();
  a->bus().stop();
  b->bus().stop();
  EXPECT_LT(SteadyClock::now() - stopping_at, 5s);  // each flushes for one second at most
  EXPECT_EQ(a->stats().publish_failures, 1u);       // the record it dropped
}

TEST(KafkaBusStartTest, StartAgainstAnUnreachableClusterFailsWithUnavailableInAboutItsTimeout) {
  KafkaBus bus(KafkaOptions{
      .brokers = "127.0.0.1:1", .node_id = "a", .start_timeout = 1500ms, .properties = {}});
  const auto started_at = SteadyClock::now();
  const Status started = bus.start();
  const auto took = SteadyClock::now() - started_at;

  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, Errc::unavailable);
  EXPECT_NE(started.error().message.find("kafka: cannot reach 127.0.0.1:1 within 1.5 s: "),
            std::string::npos)
      << started.error().message;
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(bus.health(), KafkaBus::Health::stopped);
}

struct TopicCase {
  std::string name;
  std::string prefix;
  std::string node_id;
  std::string topic;
};

void PrintTo(const TopicCase& c, std::ostream* os) { *os << c.name; }

class TopicForTest : public testing::TestWithParam<TopicCase> {};

TEST_P(TopicForTest, MapsTheNodeIdToALegalTopicName) {
  const TopicCase& c = GetParam();
  EXPECT_EQ(KafkaBus::topic_for(c.prefix, c.node_id), c.topic);
}

INSTANTIATE_TEST_SUITE_P(
    NodeIds, TopicForTest,
    testing::Values(
        TopicCase{"KeepsLegalCharacters", "chat", "host-1.example_A9",
                  "chat.node.host-1.example_A9"},
        TopicCase{"MapsSlashesColonsAndSpacesToUnderscores", "chat", "a/b:c d",
                  "chat.node.a_b_c_d"},
        TopicCase{"MapsEachByteOfANonAsciiCharacter", "chat", "h\xC3\xA9", "chat.node.h__"},
        TopicCase{"MapsIllegalCharactersOfThePrefixToo", "my chat", "a", "my_chat.node.a"},
        TopicCase{"CutsANameAt249Characters", "chat", std::string(300, 'x'),
                  "chat.node." + std::string(239, 'x')}),
    [](const testing::TestParamInfo<TopicCase>& info) { return info.param.name; });

TEST(TopicForCollisionTest, TwoIdsThatDifferOnlyInIllegalCharactersShareATopic) {
  // Documented: node ids must stay distinct after the mapping.
  EXPECT_EQ(KafkaBus::topic_for("chat", "a/b"), KafkaBus::topic_for("chat", "a:b"));
}

}  // namespace
}  // namespace chat::bus
