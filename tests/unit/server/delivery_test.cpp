#include "server/delivery.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "protocol/server_event.h"

namespace chat::server {
namespace {

// A Connection that does no I/O and records each call as one line, so a test can compare what
// a connection was asked to do with a list of sentences.
class RecordingConnection final : public Connection {
 public:
  void deliver_entry(uint64_t seq, core::OutboundQueue::Frame frame) override {
    std::lock_guard lock(mu_);
    frames_.push_back(frame);
    calls_.push_back("entry " + std::to_string(seq) + " " + *frame);
  }
  void deliver(core::OutboundQueue::Frame frame) override {
    std::lock_guard lock(mu_);
    frames_.push_back(frame);
    calls_.push_back("ephemeral " + *frame);
  }
  void catch_up(uint64_t head) override {
    std::lock_guard lock(mu_);
    calls_.push_back("catch_up " + std::to_string(head));
  }
  void close(uint16_t code, std::string reason) override {
    std::lock_guard lock(mu_);
    calls_.push_back("close " + std::to_string(code) + " " + reason);
  }
  void shut_down() override {
    std::lock_guard lock(mu_);
    calls_.push_back("shut_down");
  }

  std::vector<std::string> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<core::OutboundQueue::Frame> frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> calls_;                  // guarded by mu_
  std::vector<core::OutboundQueue::Frame> frames_;  // guarded by mu_
};

store::InboxEntry entry_for(std::string owner) {
  return store::InboxEntry{.owner = std::move(owner),
                           .seq = 7,
                           .msg_id = "018bcfe56800aabbccddeeff00112233",
                           .from = "alice",
                           .to = "bob",
                           .body = "hi \"bob\"",
                           .ts = 1'700'000'000'123};
}

// Three devices on the node: two of alice's and bob's one. carol is not connected.
const std::vector<std::pair<std::string, std::string>> kDevices = {
    {"alice-laptop", "alice"}, {"alice-phone", "alice"}, {"bob-phone", "bob"}};

struct Case {
  std::string name;
  bus::Event event;
  std::map<std::string, std::vector<std::string>> calls;  // device -> calls; absent: none
  uint64_t deliveries;                                    // metrics.deliveries afterwards
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  // The frames are built here with the protocol encoders, independently of delivery.cpp.
  const std::string message_to_bob = protocol::encode_message(entry_for("bob"));
  const std::string message_to_alice = protocol::encode_message(entry_for("alice"));
  return {
      {"DeliveryReachesTheOwnersOnlyDevice",
       bus::Delivery{entry_for("bob")},
       {{"bob-phone", {"entry 7 " + message_to_bob}}},
       1},
      {"DeliveryReachesEveryDeviceOfTheOwner",
       bus::Delivery{entry_for("alice")},
       {{"alice-laptop", {"entry 7 " + message_to_alice}},
        {"alice-phone", {"entry 7 " + message_to_alice}}},
       2},
      {"DeliveryToAUserWithoutConnectionsReachesNobody", bus::Delivery{entry_for("carol")}, {}, 0},
      {"TypingIsEphemeral",
       bus::Typing{"bob", "alice"},
       {{"alice-laptop", {"ephemeral " + protocol::encode_typing("bob")}},
        {"alice-phone", {"ephemeral " + protocol::encode_typing("bob")}}},
       0},
      {"TypingGoesToTheRecipientNotTheSender",
       bus::Typing{"alice", "bob"},
       {{"bob-phone", {"ephemeral " + protocol::encode_typing("alice")}}},
       0},
      {"TypingToAUserWithoutConnectionsReachesNobody", bus::Typing{"alice", "carol"}, {}, 0},
      {"UserDeletedClosesEachOfTheirConnectionsWith4003",
       bus::UserDeleted{"alice"},
       {{"alice-laptop", {"close 4003 user deleted"}},
        {"alice-phone", {"close 4003 user deleted"}}},
       0},
      {"UserDeletedForAUserWithoutConnectionsClosesNothing", bus::UserDeleted{"carol"}, {}, 0},
  };
}

class DeliveryTest : public testing::TestWithParam<Case> {};

TEST_P(DeliveryTest, Delivers) {
  const Case& c = GetParam();
  ConnectionRegistry registry(8);
  Metrics metrics;
  std::map<std::string, std::shared_ptr<RecordingConnection>> devices;
  for (const auto& [device, user] : kDevices) {
    devices[device] = std::make_shared<RecordingConnection>();
    ASSERT_TRUE(registry.reserve(user));
    registry.attach(user, devices[device]);
  }

  Delivery(registry, metrics)(c.event);

  for (const auto& [device, connection] : devices) {
    const auto expected = c.calls.find(device);
    EXPECT_EQ(connection->calls(),
              expected == c.calls.end() ? std::vector<std::string>{} : expected->second)
        << device;
  }
  EXPECT_EQ(metrics.deliveries.load(), c.deliveries);
}

INSTANTIATE_TEST_SUITE_P(Events, DeliveryTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(DeliveryFrameTest, EveryDeviceSharesOneSerializedFrame) {
  ConnectionRegistry registry(8);
  Metrics metrics;
  auto laptop = std::make_shared<RecordingConnection>();
  auto phone = std::make_shared<RecordingConnection>();
  for (const auto& device : {laptop, phone}) {
    ASSERT_TRUE(registry.reserve("alice"));
    registry.attach("alice", device);
  }
  Delivery(registry, metrics)(bus::Delivery{entry_for("alice")});
  ASSERT_EQ(laptop->frames().size(), 1u);
  ASSERT_EQ(phone->frames().size(), 1u);
  EXPECT_EQ(laptop->frames()[0].get(), phone->frames()[0].get());
}

TEST(DeliveryFrameTest, DeliveriesAddUpInTheMetric) {
  ConnectionRegistry registry(8);
  Metrics metrics;
  auto phone = std::make_shared<RecordingConnection>();
  ASSERT_TRUE(registry.reserve("bob"));
  registry.attach("bob", phone);
  Delivery deliver(registry, metrics);
  for (int i = 0; i < 3; ++i) deliver(bus::Delivery{entry_for("bob")});
  deliver(bus::Typing{"alice", "bob"});
  EXPECT_EQ(metrics.deliveries.load(), 3u);
  EXPECT_EQ(phone->calls().size(), 4u);
}

TEST(DeliveryFrameTest, SkipsADestroyedConnection) {
  ConnectionRegistry registry(8);
  Metrics metrics;
  auto kept = std::make_shared<RecordingConnection>();
  auto gone = std::make_shared<RecordingConnection>();
  for (const auto& device : {kept, gone}) {
    ASSERT_TRUE(registry.reserve("alice"));
    registry.attach("alice", device);
  }
  gone.reset();
  Delivery(registry, metrics)(bus::Delivery{entry_for("alice")});
  EXPECT_EQ(kept->calls().size(), 1u);
  EXPECT_EQ(metrics.deliveries.load(), 1u);
}

TEST(DeliveryFrameTest, ARemovedConnectionGetsNothing) {
  ConnectionRegistry registry(8);
  Metrics metrics;
  auto closed = std::make_shared<RecordingConnection>();
  ASSERT_TRUE(registry.reserve("alice"));
  registry.attach("alice", closed);
  registry.remove("alice", closed.get());
  Delivery(registry, metrics)(bus::Delivery{entry_for("alice")});
  EXPECT_TRUE(closed->calls().empty());
  EXPECT_EQ(metrics.deliveries.load(), 0u);
}

}  // namespace
}  // namespace chat::server
