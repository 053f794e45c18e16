#include "server/connection_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace chat::server {
namespace {

// The registry never calls a connection; it only needs something to point at, with a name so a
// test can tell which ones came back.
class NamedConnection final : public Connection {
 public:
  explicit NamedConnection(std::string name) : name_(std::move(name)) {}
  void deliver_entry(uint64_t, core::OutboundQueue::Frame) override {}
  void deliver(core::OutboundQueue::Frame) override {}
  void catch_up(uint64_t) override {}
  void close(uint16_t, std::string) override {}
  void shut_down() override {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

std::vector<std::string> names(const std::vector<std::shared_ptr<Connection>>& connections) {
  std::vector<std::string> out;
  for (const auto& c : connections) {
    out.push_back(c ? static_cast<const NamedConnection&>(*c).name() : "<expired>");
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---- table: sequences of calls and what the registry holds afterwards ----

struct Op {
  enum What { reserve, attach, release, remove } what;
  std::string user;
  std::string connection;  // attach, remove: which one ("1", "2", ...)
  bool reserved = true;    // reserve: the expected answer
};

Op reserve(std::string user, bool expected) { return {Op::reserve, std::move(user), "", expected}; }
Op attach(std::string user, std::string connection) {
  return {Op::attach, std::move(user), std::move(connection), true};
}
Op release(std::string user) { return {Op::release, std::move(user), "", true}; }
Op remove(std::string user, std::string connection) {
  return {Op::remove, std::move(user), std::move(connection), true};
}

struct Case {
  std::string name;
  std::size_t max_per_user;
  std::vector<Op> ops;
  std::map<std::string, std::vector<std::string>> connections;  // user -> names, sorted
  std::size_t total;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  return {
      {"ReservesUpToTheLimitThenRefuses",
       2,
       {reserve("alice", true), reserve("alice", true), reserve("alice", false)},
       {{"alice", {}}},
       0},
      {"AttachedConnectionsCountTowardsTheLimit",
       2,
       {reserve("alice", true), attach("alice", "1"), reserve("alice", true), attach("alice", "2"),
        reserve("alice", false)},
       {{"alice", {"1", "2"}}},
       2},
      {"HeldPlacesAndConnectionsCountTogether",
       2,
       {reserve("alice", true), attach("alice", "1"), reserve("alice", true),
        reserve("alice", false)},
       {{"alice", {"1"}}},
       1},
      {"ReleaseFreesAHeldPlace",
       1,
       {reserve("alice", true), reserve("alice", false), release("alice"), reserve("alice", true)},
       {{"alice", {}}},
       0},
      {"ReleaseDoesNotFreeAnAttachedConnectionsPlace",
       1,
       {reserve("alice", true), attach("alice", "1"), release("alice"), reserve("alice", false)},
       {{"alice", {"1"}}},
       1},
      {"ReleaseWithNothingHeldChangesNothing",
       1,
       {release("alice"), reserve("alice", true), reserve("alice", false)},
       {{"alice", {}}},
       0},
      {"RemoveFreesAPlace",
       1,
       {reserve("alice", true), attach("alice", "1"), reserve("alice", false), remove("alice", "1"),
        reserve("alice", true)},
       {{"alice", {}}},
       0},
      {"TheLimitIsPerUser",
       1,
       {reserve("alice", true), attach("alice", "1"), reserve("bob", true), attach("bob", "2"),
        reserve("alice", false), reserve("bob", false)},
       {{"alice", {"1"}}, {"bob", {"2"}}},
       2},
      {"ZeroLimitRefusesEveryone", 0, {reserve("alice", false)}, {{"alice", {}}}, 0},
      {"ConnectionsOfReturnsOnlyThatUsersConnections",
       3,
       {reserve("alice", true), attach("alice", "1"), reserve("bob", true), attach("bob", "2"),
        reserve("alice", true), attach("alice", "3")},
       {{"alice", {"1", "3"}}, {"bob", {"2"}}, {"carol", {}}},
       3},
      {"RemoveTakesOutOnlyThatConnection",
       3,
       {reserve("alice", true), attach("alice", "1"), reserve("alice", true), attach("alice", "2"),
        reserve("alice", true), attach("alice", "3"), remove("alice", "2")},
       {{"alice", {"1", "3"}}},
       2},
      {"RemovingTwiceCountsOnce",
       2,
       {reserve("alice", true), attach("alice", "1"), reserve("alice", true), attach("alice", "2"),
        remove("alice", "1"), remove("alice", "1")},
       {{"alice", {"2"}}},
       1},
      {"RemovingAnUnknownConnectionChangesNothing",
       2,
       {reserve("alice", true), attach("alice", "1"), remove("alice", "2")},
       {{"alice", {"1"}}},
       1},
      {"RemovingUnderAnotherUserChangesNothing",
       2,
       {reserve("alice", true), attach("alice", "1"), remove("bob", "1")},
       {{"alice", {"1"}}, {"bob", {}}},
       1},
      {"RemovingTheLastConnectionKeepsAHeldPlace",
       2,
       {reserve("alice", true), attach("alice", "1"), reserve("alice", true), remove("alice", "1"),
        reserve("alice", true), reserve("alice", false)},
       {{"alice", {}}},
       0},
      {"AttachWithoutReserveIsStillCounted",
       1,
       {attach("alice", "1"), reserve("alice", false)},
       {{"alice", {"1"}}},
       1},
  };
}

class ConnectionRegistryTest : public testing::TestWithParam<Case> {};

TEST_P(ConnectionRegistryTest, Holds) {
  const Case& c = GetParam();
  ConnectionRegistry registry(c.max_per_user);
  std::map<std::string, std::shared_ptr<Connection>> owned;  // the registry keeps weak refs only
  auto connection = [&owned](const std::string& name) {
    auto& slot = owned[name];
    if (!slot) slot = std::make_shared<NamedConnection>(name);
    return slot;
  };
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const Op& op = c.ops[i];
    switch (op.what) {
      case Op::reserve:
        EXPECT_EQ(registry.reserve(op.user), op.reserved) << "reserve #" << i << " for " << op.user;
        break;
      case Op::attach:
        registry.attach(op.user, connection(op.connection));
        break;
      case Op::release:
        registry.release(op.user);
        break;
      case Op::remove:
        registry.remove(op.user, connection(op.connection).get());
        break;
    }
  }
  std::vector<std::string> everyone;
  for (const auto& [user, expected] : c.connections) {
    EXPECT_EQ(names(registry.connections_of(user)), expected) << user;
    EXPECT_EQ(registry.count(user), expected.size()) << user;
    everyone.insert(everyone.end(), expected.begin(), expected.end());
  }
  std::sort(everyone.begin(), everyone.end());
  EXPECT_EQ(names(registry.all()), everyone);
  EXPECT_EQ(registry.total(), c.total);
}

INSTANTIATE_TEST_SUITE_P(Calls, ConnectionRegistryTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// ---- weak references ----

TEST(ConnectionRegistryLifetimeTest, ADestroyedConnectionIsNotReturned) {
  ConnectionRegistry registry(4);
  auto kept = std::make_shared<NamedConnection>("kept");
  auto gone = std::make_shared<NamedConnection>("gone");
  ASSERT_TRUE(registry.reserve("alice"));
  registry.attach("alice", kept);
  ASSERT_TRUE(registry.reserve("alice"));
  registry.attach("alice", gone);
  gone.reset();  // destroyed before it removed itself

  EXPECT_EQ(names(registry.connections_of("alice")), std::vector<std::string>{"kept"});
  EXPECT_EQ(names(registry.all()), std::vector<std::string>{"kept"});
}

TEST(ConnectionRegistryLifetimeTest, TheRegistryDoesNotKeepAConnectionAlive) {
  ConnectionRegistry registry(4);
  auto connection = std::make_shared<NamedConnection>("1");
  const std::weak_ptr<NamedConnection> watch = connection;
  ASSERT_TRUE(registry.reserve("alice"));
  registry.attach("alice", connection);
  connection.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(ConnectionRegistryLifetimeTest, RemovingByAddressWorksAfterTheConnectionIsGone) {
  // A session removes itself from its destructor path, when its weak refs may already be expired.
  ConnectionRegistry registry(1);
  auto connection = std::make_shared<NamedConnection>("1");
  const Connection* address = connection.get();
  ASSERT_TRUE(registry.reserve("alice"));
  registry.attach("alice", connection);
  connection.reset();
  registry.remove("alice", address);
  EXPECT_EQ(registry.count("alice"), 0u);
  EXPECT_EQ(registry.total(), 0u);
  EXPECT_TRUE(registry.reserve("alice"));
}

TEST(ConnectionRegistryUsersTest, UsersListsEveryConnectedUserWithTheirCountButNotHeldPlaces) {
  ConnectionRegistry registry(4);
  auto a1 = std::make_shared<NamedConnection>("a1");
  auto a2 = std::make_shared<NamedConnection>("a2");
  auto b1 = std::make_shared<NamedConnection>("b1");
  for (const auto& [user, c] : {std::pair{"alice", a1}, {"alice", a2}, {"bob", b1}}) {
    ASSERT_TRUE(registry.reserve(user));
    registry.attach(user, c);
  }
  ASSERT_TRUE(registry.reserve("carol"));  // a place held during an upgrade is no connection
  auto users = registry.users();
  std::sort(users.begin(), users.end());
  using Users = std::vector<std::pair<std::string, std::size_t>>;
  EXPECT_EQ(users, (Users{{"alice", 2}, {"bob", 1}}));
  registry.remove("bob", b1.get());
  EXPECT_EQ(registry.users(), (Users{{"alice", 2}}));
}

// ---- threads ----

TEST(ConnectionRegistryConcurrencyTest, ContendedReservesGrantExactlyTheLimit) {
  constexpr std::size_t kLimit = 32;
  constexpr int kThreads = 8;
  constexpr int kAttemptsPerThread = 100;
  ConnectionRegistry registry(kLimit);
  std::atomic<std::size_t> granted{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kAttemptsPerThread; ++i) {
        if (registry.reserve("alice")) granted.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), kLimit);
}

TEST(ConnectionRegistryConcurrencyTest, ConcurrentAttachAndRemoveKeepTheTotalConsistent) {
  // Threads share some users (same shard, same list) and own others; each connects, keeps half
  // of its connections, and closes the rest, in interleavings chosen by the scheduler.
  constexpr int kThreads = 8;
  constexpr int kConnectionsPerThread = 200;
  const std::vector<std::string> users = {"alice", "bob", "carol", "dave", "erin"};
  ConnectionRegistry registry(kThreads * kConnectionsPerThread);
  std::vector<std::vector<std::shared_ptr<Connection>>> kept(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kConnectionsPerThread; ++i) {
        const std::string& user = users[(t + i) % users.size()];
        ASSERT_TRUE(registry.reserve(user));
        if (i % 4 == 3) {
          registry.release(user);  // an upgrade that failed
          continue;
        }
        auto connection = std::make_shared<NamedConnection>(std::to_string(t) + "/" + user);
        registry.attach(user, connection);
        if (i % 2 == 0) {
          registry.remove(user, connection.get());
        } else {
          kept[t].push_back(std::move(connection));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::size_t expected_total = 0;
  for (const auto& list : kept) expected_total += list.size();
  ASSERT_EQ(expected_total, static_cast<std::size_t>(kThreads * kConnectionsPerThread / 4));
  EXPECT_EQ(registry.total(), expected_total);
  EXPECT_EQ(registry.all().size(), expected_total);
  std::size_t counted = 0;
  for (const std::string& user : users) {
    EXPECT_EQ(registry.count(user), registry.connections_of(user).size()) << user;
    counted += registry.count(user);
  }
  EXPECT_EQ(counted, expected_total);

  // Now the survivors close concurrently too; nothing must be left behind.
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const auto& connection : kept[t]) {
        const std::string& name = static_cast<NamedConnection&>(*connection).name();
        registry.remove(name.substr(name.find('/') + 1), connection.get());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(registry.total(), 0u);
  EXPECT_TRUE(registry.all().empty());
  for (const std::string& user : users) EXPECT_EQ(registry.count(user), 0u) << user;
}

}  // namespace
}  // namespace chat::server
