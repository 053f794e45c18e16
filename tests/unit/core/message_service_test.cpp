#include "core/message_service.h"

#include <gtest/gtest.h>

#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "bus/bus.h"
#include "fakes/in_memory_store.h"

namespace chat::core {
namespace {

constexpr int64_t kNow = 1'700'000'000'123;

// A bus that only remembers what was published, in order.
class RecordingBus final : public bus::Bus {
 public:
  void subscribe(Handler) override {}
  void publish(bus::Event event, const bus::Nodes& nodes) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
    nodes_.push_back(nodes);
  }

  std::vector<bus::Nodes> nodes() const {
    std::lock_guard lock(mu_);
    return nodes_;
  }

  std::vector<bus::Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

  // The Deliveries published so far; fails the test on any other kind of event.
  std::vector<store::InboxEntry> deliveries() const {
    std::vector<store::InboxEntry> out;
    for (const bus::Event& event : events()) {
      const auto* delivery = std::get_if<bus::Delivery>(&event);
      EXPECT_NE(delivery, nullptr) << "the message service published a non-Delivery event";
      if (delivery) out.push_back(delivery->entry);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<bus::Event> events_;  // guarded by mu_
  std::vector<bus::Nodes> nodes_;   // guarded by mu_; the destinations of events_[i]
};

protocol::SendFrame frame(std::string id, std::string to, std::string body = "hello") {
  return protocol::SendFrame{std::move(id), std::move(to), std::move(body)};
}

class MessageServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alice", "bob"}) {
      store_.create_user(name, 1, [name](Result<store::User> r) { ASSERT_TRUE(r.ok()) << name; });
    }
  }

  // Sends and returns what `done` received. The fake store runs callbacks inline, so `done` has
  // run by the time send() returns; it must have run exactly once.
  Result<store::SendResult> send(const std::string& from, protocol::SendFrame frame,
                                 int64_t now_ms = kNow) {
    std::optional<Result<store::SendResult>> outcome;
    int calls = 0;
    service_.send(from, std::move(frame), now_ms, [&](Result<store::SendResult> result) {
      ++calls;
      outcome.emplace(std::move(result));
    });
    EXPECT_EQ(calls, 1) << "done must run exactly once";
    if (!outcome) return make_error(Errc::internal, "done never ran");
    return std::move(*outcome);
  }

  std::vector<store::InboxEntry> inbox(const std::string& owner) {
    Result<std::vector<store::InboxEntry>> entries = store_.read_inbox(owner, 0, 1000);
    EXPECT_TRUE(entries.ok());
    return entries.ok() ? *entries : std::vector<store::InboxEntry>{};
  }

  store::InMemoryStore store_;
  RecordingBus bus_;
  MessageService service_{store_, bus_};
};

TEST_F(MessageServiceTest, SendStoresBothEntriesAndPublishesOneDeliveryForEach) {
  const Result<store::SendResult> result = send("alice", frame("m1", "bob", "hi bob"));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(result->duplicate);

  const std::vector<store::InboxEntry> published = bus_.deliveries();
  ASSERT_EQ(published.size(), 2u);
  // The recipient's entry first, then the sender's (the order the store returns them).
  EXPECT_EQ(published[0].owner, "bob");
  EXPECT_EQ(published[1].owner, "alice");
  for (const store::InboxEntry& entry : published) {
    EXPECT_EQ(entry.msg_id, result->msg_id);
    EXPECT_EQ(entry.from, "alice");
    EXPECT_EQ(entry.to, "bob");
    EXPECT_EQ(entry.body, "hi bob");
    EXPECT_EQ(entry.ts, kNow);
    EXPECT_EQ(entry.seq, 1u);
  }
  EXPECT_EQ(result->ts, kNow);

  // What was published is what was stored.
  ASSERT_EQ(inbox("bob").size(), 1u);
  ASSERT_EQ(inbox("alice").size(), 1u);
  EXPECT_EQ(inbox("bob")[0].msg_id, result->msg_id);
  EXPECT_EQ(inbox("alice")[0].msg_id, result->msg_id);
}

TEST_F(MessageServiceTest, EachDeliveryGoesToTheInstancesHoldingItsOwner) {
  store_.set_routes("bob", {"node-b", "node-c"});
  store_.set_routes("alice", {"node-a"});
  ASSERT_TRUE(send("alice", frame("m1", "bob")).ok());
  const std::vector<bus::Nodes> nodes = bus_.nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0], (bus::Nodes{"node-b", "node-c"}));  // bob's entry
  EXPECT_EQ(nodes[1], (bus::Nodes{"node-a"}));            // alice's carbon
}

TEST_F(MessageServiceTest, WithoutRoutesEveryDeliveryStaysOnThisInstance) {
  ASSERT_TRUE(send("alice", frame("m1", "bob")).ok());
  for (const bus::Nodes& nodes : bus_.nodes()) EXPECT_TRUE(nodes.empty());
}

TEST_F(MessageServiceTest, MessageIdIsFreshAndCarriesTheAcceptTime) {
  const Result<store::SendResult> first = send("alice", frame("m1", "bob"), kNow);
  const Result<store::SendResult> second = send("alice", frame("m2", "bob"), kNow);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->msg_id.size(), 32u);
  EXPECT_EQ(first->msg_id.substr(0, 12), new_message_id(kNow).substr(0, 12));
  EXPECT_NE(first->msg_id, second->msg_id);
}

TEST_F(MessageServiceTest, DoneReceivesTheSendersSeqNotTheRecipients) {
  // alice's own note puts her inbox one ahead of bob's.
  ASSERT_TRUE(send("alice", frame("note", "alice")).ok());
  const Result<store::SendResult> result = send("alice", frame("m1", "bob"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->sender_seq, 2u);

  const std::vector<store::InboxEntry> published = bus_.deliveries();
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[1].owner, "bob");
  EXPECT_EQ(published[1].seq, 1u);
  EXPECT_EQ(published[2].owner, "alice");
  EXPECT_EQ(published[2].seq, 2u);
}

TEST_F(MessageServiceTest, SelfMessagePublishesASingleDelivery) {
  const Result<store::SendResult> result = send("alice", frame("m1", "alice", "note to self"));
  ASSERT_TRUE(result.ok());
  const std::vector<store::InboxEntry> published = bus_.deliveries();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].owner, "alice");
  EXPECT_EQ(published[0].msg_id, result->msg_id);
  EXPECT_EQ(published[0].seq, 1u);
  EXPECT_EQ(result->sender_seq, 1u);
  EXPECT_EQ(inbox("alice").size(), 1u);
}

TEST_F(MessageServiceTest, DeliveriesArePublishedBeforeDoneRuns) {
  // Once the sender sees `sent`, every device must already have been handed the message.
  std::size_t published_when_done = 0;
  service_.send("alice", frame("m1", "bob"), kNow,
                [&](Result<store::SendResult>) { published_when_done = bus_.events().size(); });
  EXPECT_EQ(published_when_done, 2u);
}

TEST_F(MessageServiceTest, DuplicatePublishesNothingAndReturnsTheOriginal) {
  const Result<store::SendResult> original = send("alice", frame("m1", "bob", "first"), kNow);
  ASSERT_TRUE(original.ok());
  ASSERT_EQ(bus_.events().size(), 2u);

  const Result<store::SendResult> retry =
      send("alice", frame("m1", "bob", "edited retry"), kNow + 5000);
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->msg_id, original->msg_id);
  EXPECT_EQ(retry->sender_seq, original->sender_seq);
  EXPECT_EQ(retry->ts, kNow);
  EXPECT_EQ(bus_.events().size(), 2u) << "a duplicate must not be delivered again";
  ASSERT_EQ(inbox("bob").size(), 1u);
  EXPECT_EQ(inbox("bob")[0].body, "first");
}

TEST_F(MessageServiceTest, TheSameClientIdFromAnotherSenderIsNotADuplicate) {
  ASSERT_TRUE(send("alice", frame("m1", "bob")).ok());
  const Result<store::SendResult> result = send("bob", frame("m1", "alice"));
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->duplicate);
  EXPECT_EQ(bus_.events().size(), 4u);
}

// Sends that fail: the error reaches `done` and nothing is published or stored.
struct FailureCase {
  std::string name;
  bool store_failing;
  std::string from;
  std::string to;
  Errc expected;
};

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

class MessageServiceFailureTest : public MessageServiceTest,
                                  public testing::WithParamInterface<FailureCase> {};

TEST_P(MessageServiceFailureTest, PublishesNothing) {
  const FailureCase& c = GetParam();
  store_.set_failing(c.store_failing);
  const Result<store::SendResult> result = send(c.from, frame("m1", c.to));
  ASSERT_FALSE(result.ok()) << "accepted with msg_id " << result->msg_id;
  EXPECT_EQ(to_string(result.error().code), to_string(c.expected));
  EXPECT_TRUE(bus_.events().empty());
  EXPECT_TRUE(inbox("alice").empty());
  EXPECT_TRUE(inbox("bob").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Failures, MessageServiceFailureTest,
    testing::Values(
        FailureCase{"FailingStoreReportsUnavailable", true, "alice", "bob", Errc::unavailable},
        FailureCase{"FailingStoreReportsUnavailableForASelfMessage", true, "alice", "alice",
                    Errc::unavailable},
        FailureCase{"UnknownRecipientIsReported", false, "alice", "carol", Errc::unknown_recipient},
        FailureCase{"UnknownSenderIsForbidden", false, "mallory", "bob", Errc::forbidden}),
    [](const testing::TestParamInfo<FailureCase>& info) { return info.param.name; });

TEST_F(MessageServiceTest, RetryAfterTheStoreRecoversIsStoredOnce) {
  // A failed send recorded no idempotency key, so the client's retry is a first send.
  store_.set_failing(true);
  ASSERT_FALSE(send("alice", frame("m1", "bob")).ok());
  store_.set_failing(false);
  const Result<store::SendResult> retry = send("alice", frame("m1", "bob"));
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(retry->duplicate);
  EXPECT_EQ(bus_.events().size(), 2u);
  EXPECT_EQ(inbox("bob").size(), 1u);
}

}  // namespace
}  // namespace chat::core
