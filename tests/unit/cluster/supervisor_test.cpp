// The cluster supervisor over fakes: catch-up, re-registration after a lost database, reaping.
#include "cluster/supervisor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/node_presence.h"
#include "fakes/in_memory_store.h"

namespace chat::cluster {
namespace {

using namespace std::chrono_literals;

// Waits for a condition that another thread makes true; fails after a bound instead of hanging.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);  // polling interval of a bounded wait
  }
  return condition();
}

// Membership and Presence in memory: records calls, can be made to fail like a lost database.
class FakeRegistry final : public store::Presence, public store::Membership {
 public:
  Result<uint64_t> attach(std::string_view user, std::string_view node) override {
    std::lock_guard lock(mu_);
    if (down_) return make_error(Errc::unavailable, "down");
    ++rows_[{std::string(node), std::string(user)}];
    return uint64_t{0};
  }
  void detach(std::string user, std::string node) override {
    std::lock_guard lock(mu_);
    auto it = rows_.find({node, user});
    if (it != rows_.end() && --it->second == 0) rows_.erase(it);
  }
  Result<std::vector<std::string>> nodes_of(std::string_view) override {
    return std::vector<std::string>{};
  }
  Result<std::vector<std::string>> live_nodes() override { return std::vector<std::string>{}; }
  Result<std::vector<std::size_t>> connection_counts(const std::vector<std::string>& users) override {
    return std::vector<std::size_t>(users.size(), 0);
  }

  Result<bool> heartbeat(std::string_view node) override {
    std::lock_guard lock(mu_);
    ++heartbeats_;
    if (down_) return make_error(Errc::unavailable, "down");
    return known_.insert(std::string(node)).second;
  }
  Status reset_presence(std::string_view node,
                        const std::vector<std::pair<std::string, std::size_t>>& counts) override {
    std::lock_guard lock(mu_);
    if (down_) return make_error(Errc::unavailable, "down");
    ++resets_;
    std::erase_if(rows_, [&](const auto& row) { return row.first.first == node; });
    for (const auto& [user, n] : counts) rows_[{std::string(node), user}] = n;
    return Ok{};
  }
  Result<std::vector<std::string>> reap(std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    if (down_) return make_error(Errc::unavailable, "down");
    return std::exchange(dead_, {});
  }
  Status leave(std::string_view) override { return Ok{}; }

  void set_down(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  void forget(const std::string& node) {  // as if reaped by another instance
    std::lock_guard lock(mu_);
    known_.erase(node);
    std::erase_if(rows_, [&](const auto& row) { return row.first.first == node; });
  }
  void add_dead(std::string node) {
    std::lock_guard lock(mu_);
    dead_.push_back(std::move(node));
  }
  int heartbeats() {
    std::lock_guard lock(mu_);
    return heartbeats_;
  }
  int resets() {
    std::lock_guard lock(mu_);
    return resets_;
  }
  std::size_t row(const std::string& node, const std::string& user) {
    std::lock_guard lock(mu_);
    auto it = rows_.find({node, user});
    return it == rows_.end() ? 0 : it->second;
  }

 private:
  std::mutex mu_;
  bool down_ = false;
  int heartbeats_ = 0;
  int resets_ = 0;
  std::set<std::string> known_;
  std::vector<std::string> dead_;
  std::map<std::pair<std::string, std::string>, std::size_t> rows_;  // (node, user) -> count
};

// A connection that records the heads it was asked to catch up to.
class CatchUpRecorder final : public server::Connection {
 public:
  void deliver_entry(uint64_t, core::OutboundQueue::Frame) override {}
  void deliver(core::OutboundQueue::Frame) override {}
  void catch_up(uint64_t head) override {
    std::lock_guard lock(mu_);
    heads_.push_back(head);
  }
  void close(uint16_t, std::string) override {}
  void shut_down() override {}
  std::vector<uint64_t> heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  std::mutex mu_;
  std::vector<uint64_t> heads_;
};

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alice", "bob"})
      store_.create_user(name, 1, [](Result<store::User> r) { ASSERT_TRUE(r.ok()); });
    ASSERT_TRUE(fake_.heartbeat("me").ok());  // registered at start-up, as app/node does
  }

  void connect(const std::string& user, const std::shared_ptr<CatchUpRecorder>& connection) {
    ASSERT_TRUE(registry_.reserve(user));
    registry_.attach(user, connection);
    ASSERT_TRUE(presence_.attach(user, "me").ok());
  }

  void send(const std::string& from, const std::string& to, const std::string& id) {
    store_.append(store::SendRequest{from, id, to, "hi", "msg-" + id, 1},
                  [](Result<store::SendResult> r) { ASSERT_TRUE(r.ok()); });
  }

  Supervisor& start(std::chrono::milliseconds catch_up_interval = 20ms) {
    supervisor_ = std::make_unique<Supervisor>(
        SupervisorOptions{.node_id = "me",
                          .heartbeat_interval = 10ms,
                          .catch_up_interval = catch_up_interval,
                          .reap_interval = 10ms,
                          .reap_after = 30s},
        store_, fake_, presence_, registry_, metrics_, [this](const std::string& node) {
          std::lock_guard lock(mu_);
          reaped_.push_back(node);
        });
    supervisor_->start();
    return *supervisor_;
  }

  std::vector<std::string> reaped() {
    std::lock_guard lock(mu_);
    return reaped_;
  }

  store::InMemoryStore store_;
  FakeRegistry fake_;
  NodePresence presence_{fake_, fake_};
  server::ConnectionRegistry registry_{8};
  server::Metrics metrics_;
  std::mutex mu_;
  std::vector<std::string> reaped_;
  std::unique_ptr<Supervisor> supervisor_;  // last: stopped before what it borrows goes
};

TEST_F(SupervisorTest, EveryRoundTellsEachConnectionItsUsersInboxHead) {
  auto alice1 = std::make_shared<CatchUpRecorder>();
  auto alice2 = std::make_shared<CatchUpRecorder>();
  auto bob = std::make_shared<CatchUpRecorder>();
  connect("alice", alice1);
  connect("alice", alice2);
  connect("bob", bob);
  send("alice", "bob", "1");
  send("alice", "bob", "2");
  send("bob", "bob", "3");
  start();
  for (auto* c : {alice1.get(), alice2.get()})
    EXPECT_TRUE(eventually([c] { return !c->heads().empty() && c->heads().back() == 2; }));
  EXPECT_TRUE(eventually([&] { return !bob->heads().empty() && bob->heads().back() == 3; }));
  EXPECT_TRUE(eventually([&] { return metrics_.catch_up_rounds.load() >= 2; }));
}

TEST_F(SupervisorTest, WakeCatchesUpAtOnceWithoutWaitingForTheInterval) {
  auto alice = std::make_shared<CatchUpRecorder>();
  connect("alice", alice);
  Supervisor& supervisor = start(/*catch_up_interval=*/1h);
  EXPECT_TRUE(alice->heads().empty());
  send("bob", "alice", "1");
  supervisor.wake();
  EXPECT_TRUE(eventually([&] { return !alice->heads().empty() && alice->heads().back() == 1; }));
}

TEST_F(SupervisorTest, AfterTheDatabaseComesBackPresenceIsRewrittenFromWhatTheInstanceHolds) {
  auto alice = std::make_shared<CatchUpRecorder>();
  connect("alice", alice);
  connect("alice", std::make_shared<CatchUpRecorder>());  // registered, then its count is lost
  start();
  fake_.set_down(true);
  const int beats = fake_.heartbeats();
  EXPECT_TRUE(eventually([&] { return fake_.heartbeats() > beats + 2; }));  // failing heartbeats
  fake_.forget("me");                                                        // rows gone meanwhile
  EXPECT_EQ(fake_.row("me", "alice"), 0u);
  fake_.set_down(false);
  EXPECT_TRUE(eventually([&] { return fake_.row("me", "alice") == 2; }));
  EXPECT_GE(fake_.resets(), 1);
}

TEST_F(SupervisorTest, AnInstanceReapedWhileCutOffReRegistersItsConnections) {
  connect("bob", std::make_shared<CatchUpRecorder>());
  start();
  fake_.forget("me");
  EXPECT_TRUE(eventually([&] { return fake_.row("me", "bob") == 1; }));
}

TEST_F(SupervisorTest, DeadInstancesAreHandedOverForTheirTopicsButNeverItself) {
  start();
  fake_.add_dead("gone-1");
  fake_.add_dead("me");
  fake_.add_dead("gone-2");
  EXPECT_TRUE(eventually([&] { return reaped().size() == 2; }));
  EXPECT_EQ(reaped(), (std::vector<std::string>{"gone-1", "gone-2"}));
}

TEST_F(SupervisorTest, StopWakesTheThreadAndMayBeCalledTwice) {
  Supervisor& supervisor = start(1h);  // asleep for an hour unless stop() wakes it
  supervisor.stop();
  supervisor.stop();
  const int beats = fake_.heartbeats();
  std::this_thread::sleep_for(50ms);  // several heartbeat intervals: none may happen after stop
  EXPECT_EQ(fake_.heartbeats(), beats);
}

}  // namespace
}  // namespace chat::cluster
