// What only PostgresStore promises: several instances on one database (one entry per idempotency
// key, gapless seqs, deadlocks retried), the routing registry (attach ordered against appends,
// routes and liveness, heartbeats, reaping), migrations by instances starting together, group
// commit, and failing fast while the database is unreachable.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "unit/store/postgres_test_util.h"
#include "unit/store/store_test_util.h"
#include "unit/store/tcp_proxy.h"

namespace chat::store {
namespace {

using namespace std::chrono_literals;
using Strings = std::vector<std::string>;
using testing::create_user;
using testing::flush;
using testing::message;
using testing::pending;
using testing::Pending;
using testing::send;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = testing::test_database_url();
    if (url == nullptr) {
      if (testing::services_required()) FAIL() << testing::kNoTestDatabase;
      GTEST_SKIP() << testing::kNoTestDatabase;
    }
    schema_ = std::make_unique<testing::TestSchema>(url);
  }

  std::unique_ptr<PostgresStore> open(PostgresOptions options = {}) {
    if (options.url.empty()) options.url = schema_->url();
    Result<std::unique_ptr<PostgresStore>> store = PostgresStore::open(std::move(options));
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  static void create_users(Store& store, std::initializer_list<std::string> names) {
    for (const std::string& name : names) ASSERT_TRUE(create_user(store, name).ok()) << name;
  }

  static std::vector<uint64_t> seqs(const std::vector<InboxEntry>& entries) {
    std::vector<uint64_t> out;
    for (const InboxEntry& entry : entries) out.push_back(entry.seq);
    return out;
  }

  static std::vector<uint64_t> one_to(uint64_t n) {
    std::vector<uint64_t> out;
    for (uint64_t i = 1; i <= n; ++i) out.push_back(i);
    return out;
  }

  // Makes `node` look dead to everyone: its last heartbeat a minute ago.
  void silence(const std::string& node) {
    schema_->exec("UPDATE nodes SET heartbeat_at = now() - interval '1 minute' WHERE node_id = '" +
                  node + "'");
  }

  std::unique_ptr<testing::TestSchema> schema_;
};

template <typename F>
std::chrono::milliseconds time_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

// --- several instances on one database

TEST_F(PostgresStoreTest, TwoInstancesRacingOnOneClientIdStoreOneEntryAndLeaveNoGap) {
  auto first = open();
  auto second = open();
  create_users(*first, {"alice", "bob"});

  constexpr int kRounds = 100;
  std::vector<Pending<SendResult>> a;
  std::vector<Pending<SendResult>> b;
  for (int i = 0; i < kRounds; ++i) {
    // Not "c" + std::to_string(i): gcc 12 warns falsely about it (-Wrestrict, bug 105329).
    std::string id = "c";
    id += std::to_string(i);
    SendRequest one = message("alice", "bob", id, id);
    SendRequest two = one;
    one.msg_id = "first-" + id;
    two.msg_id = "second-" + id;
    a.push_back(pending<SendResult>());
    b.push_back(pending<SendResult>());
    first->append(one, a.back().callback);
    second->append(two, b.back().callback);
  }

  for (int i = 0; i < kRounds; ++i) {
    Result<SendResult> x = a[i].future.get();
    Result<SendResult> y = b[i].future.get();
    ASSERT_TRUE(x.ok()) << x.error().message;
    ASSERT_TRUE(y.ok()) << y.error().message;
    ASSERT_NE(x->duplicate, y->duplicate) << "exactly one of the two stores the message " << i;
    const SendResult& original = x->duplicate ? *y : *x;
    const SendResult& repeat = x->duplicate ? *x : *y;
    EXPECT_EQ(repeat.msg_id, original.msg_id);
    EXPECT_EQ(repeat.sender_seq, original.sender_seq);
    EXPECT_TRUE(repeat.entries.empty());
  }
  for (const char* owner : {"alice", "bob"}) {
    Result<std::vector<InboxEntry>> inbox = first->read_inbox(owner, 0, 1000);
    ASSERT_TRUE(inbox.ok());
    EXPECT_EQ(seqs(*inbox), one_to(kRounds)) << owner;
    std::set<std::string> bodies;
    for (const InboxEntry& entry : *inbox) bodies.insert(entry.body);
    EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kRounds)) << owner;
  }
}

TEST_F(PostgresStoreTest, ConcurrentAppendsOfTwoInstancesOverOverlappingUsersKeepInboxesGapless) {
  std::unique_ptr<PostgresStore> stores[] = {open(), open()};
  const Strings users = {"u0", "u1", "u2", "u3", "u4"};
  for (const std::string& user : users) ASSERT_TRUE(create_user(*stores[0], user).ok());

  constexpr int kThreadsPerStore = 2;
  constexpr int kSendsPerThread = 500;
  std::mutex mu;
  std::map<std::string, uint64_t> expected;  // entries per inbox
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < 2; ++s) {
    for (int t = 0; t < kThreadsPerStore; ++t) {
      threads.emplace_back([&, s, t] {
        std::mt19937 random(static_cast<unsigned>(s * 100 + t));
        std::vector<Pending<SendResult>> sent;
        for (int i = 0; i < kSendsPerThread; ++i) {
          const std::string& from = users[random() % users.size()];
          const std::string& to = users[random() % users.size()];
          {
            std::lock_guard lock(mu);
            ++expected[to];
            if (from != to) ++expected[from];
          }
          sent.push_back(pending<SendResult>());
          const std::string id =
              std::to_string(s) + "-" + std::to_string(t) + "-" + std::to_string(i);
          stores[s]->append(message(from, to, id), sent.back().callback);
        }
        for (Pending<SendResult>& p : sent) {
          Result<SendResult> result = p.future.get();
          if (!result.ok() || result->duplicate) {
            ++failures;
            if (!result.ok()) ADD_FAILURE() << result.error().message;
          }
        }
      });
    }
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(failures.load(), 0);
  for (const std::string& user : users) {
    Result<std::vector<InboxEntry>> inbox = stores[1]->read_inbox(user, 0, 100'000);
    ASSERT_TRUE(inbox.ok());
    EXPECT_EQ(seqs(*inbox), one_to(expected[user])) << user;
    EXPECT_EQ(*stores[0]->last_seq(user), expected[user]) << user;
  }
}

TEST_F(PostgresStoreTest, AnAppendThatLosesADeadlockIsRunAgain) {
  auto store = open();
  create_users(*store, {"alice", "bob"});
  // The test's own transaction holds bob's head; the writer locks alice's, then waits for bob's.
  schema_->exec("BEGIN; SELECT 1 FROM heads WHERE owner = 'bob' FOR UPDATE");
  auto sent = pending<SendResult>();
  store->append(message("alice", "bob", "c1"), sent.callback);
  ASSERT_TRUE(schema_->wait_for_a_store_blocked_on_a_lock());
  // Now wait for alice's: a cycle. The writer has waited longer, so it is the one the server
  // aborts (after deadlock_timeout); if the server picks this transaction instead, so be it.
  try {
    schema_->exec("SELECT 1 FROM heads WHERE owner = 'alice' FOR UPDATE");
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("deadlock"), std::string::npos) << e.what();
  }
  schema_->rollback();

  Result<SendResult> result = sent.future.get();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->sender_seq, 1u);
  EXPECT_EQ(*store->last_seq("bob"), 1u);
}

TEST_F(PostgresStoreTest, AnAttachThatLosesADeadlockIsRunAgain) {
  auto store = open();
  create_users(*store, {"bob"});
  ASSERT_TRUE(store->heartbeat("n1").ok());
  // attach() holds bob's head FOR SHARE, then waits for the node row that this transaction holds;
  // asking for the head now closes the cycle, and the attach, waiting longer, is the one refused.
  schema_->exec("BEGIN; SELECT 1 FROM nodes WHERE node_id = 'n1' FOR UPDATE");
  auto attached = std::async(std::launch::async, [&] { return store->attach("bob", "n1"); });
  ASSERT_TRUE(schema_->wait_for_a_store_blocked_on_a_lock());
  try {
    schema_->exec("SELECT 1 FROM heads WHERE owner = 'bob' FOR UPDATE");
  } catch (const std::exception& e) {
    // The deadlock detector may, rarely, pick this side instead.
    EXPECT_NE(std::string(e.what()).find("deadlock"), std::string::npos) << e.what();
  }
  schema_->rollback();

  Result<uint64_t> head = attached.get();
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_EQ(*store->connection_counts({"bob"}), std::vector<std::size_t>{1});
}

// --- the routing registry

TEST_F(PostgresStoreTest, AttachReturnsTheInboxHeadAndLaterAppendsAreRoutedToTheNode) {
  auto store = open();
  create_users(*store, {"alice", "bob"});
  ASSERT_TRUE(store->heartbeat("n1").ok());
  ASSERT_TRUE(store->heartbeat("n2").ok());

  Result<SendResult> unseen = send(*store, message("alice", "bob", "1"));
  ASSERT_TRUE(unseen.ok());
  EXPECT_EQ(unseen->routes, (std::vector<Strings>{{}, {}}));

  EXPECT_EQ(*store->attach("bob", "n1"), 1u);
  Result<SendResult> to_bob = send(*store, message("alice", "bob", "2"));
  ASSERT_TRUE(to_bob.ok());
  EXPECT_EQ(to_bob->routes, (std::vector<Strings>{{"n1"}, {}}));  // bob's entry, then alice's

  EXPECT_EQ(*store->attach("alice", "n2"), 2u);
  EXPECT_EQ(*store->attach("bob", "n2"), 2u);
  Result<SendResult> both = send(*store, message("alice", "bob", "3"));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->routes, (std::vector<Strings>{{"n1", "n2"}, {"n2"}}));

  Result<SendResult> note = send(*store, message("alice", "alice", "4"));
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->routes, (std::vector<Strings>{{"n2"}}));

  Result<SendResult> repeat = send(*store, message("alice", "bob", "3"));
  ASSERT_TRUE(repeat.ok());
  EXPECT_TRUE(repeat->duplicate);
  EXPECT_TRUE(repeat->routes.empty());
}

TEST_F(PostgresStoreTest, AnEntryCommittedWhileADeviceAttachesIsBelowTheHeadOrRoutedToItsNode) {
  auto sender = open();
  auto receiver = open();  // another instance, where bob's device connects
  create_users(*sender, {"alice", "bob"});
  ASSERT_TRUE(receiver->heartbeat("n1").ok());

  constexpr int kSends = 400;
  std::vector<Pending<SendResult>> sent;
  Result<uint64_t> head = uint64_t{0};
  for (int i = 0; i < kSends; ++i) {
    sent.push_back(pending<SendResult>());
    sender->append(message("alice", "bob", std::to_string(i)), sent.back().callback);
    if (i == kSends / 4) {
      sent.front().future.wait();  // appends are committing now
      head = receiver->attach("bob", "n1");
    }
  }
  ASSERT_TRUE(head.ok()) << head.error().message;
  int above = 0;
  for (Pending<SendResult>& p : sent) {
    Result<SendResult> result = p.future.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    const InboxEntry& to_bob = result->entries[0];
    if (to_bob.seq > *head) {
      ++above;
      EXPECT_EQ(result->routes[0], Strings{"n1"}) << "seq " << to_bob.seq << ", head " << *head;
    }
  }
  EXPECT_GT(above, 0);
}

TEST_F(PostgresStoreTest, NodesWithAStaleHeartbeatAreLeftOutOfRoutesCountsAndNodesOf) {
  auto store = open();
  create_users(*store, {"alice", "bob"});
  ASSERT_TRUE(store->heartbeat("n1").ok());
  ASSERT_TRUE(store->heartbeat("n2").ok());
  ASSERT_TRUE(store->attach("bob", "n1").ok());
  ASSERT_TRUE(store->attach("bob", "n2").ok());
  ASSERT_TRUE(store->attach("alice", "n2").ok());
  ASSERT_TRUE(store->attach("alice", "n2").ok());

  EXPECT_EQ(*store->nodes_of("bob"), (Strings{"n1", "n2"}));
  EXPECT_EQ(*store->live_nodes(), (Strings{"n1", "n2"}));
  EXPECT_EQ(*store->connection_counts({"bob", "alice", "nobody"}),
            (std::vector<std::size_t>{2, 2, 0}));

  silence("n1");
  EXPECT_EQ(*store->nodes_of("bob"), Strings{"n2"});
  EXPECT_EQ(*store->live_nodes(), Strings{"n2"});
  EXPECT_EQ(*store->connection_counts({"bob", "alice", "nobody"}),
            (std::vector<std::size_t>{1, 2, 0}));
  Result<SendResult> sent = send(*store, message("alice", "bob", "1"));
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->routes, (std::vector<Strings>{{"n2"}, {"n2"}}));

  // A heartbeat brings it back, with its presence rows intact.
  EXPECT_FALSE(*store->heartbeat("n1"));
  EXPECT_EQ(*store->nodes_of("bob"), (Strings{"n1", "n2"}));
}

TEST_F(PostgresStoreTest, NodesOfAMissingUserIsNotFound) {
  auto store = open();
  EXPECT_EQ(store->nodes_of("nobody").error().code, Errc::not_found);
}

TEST_F(PostgresStoreTest, AttachOfAMissingOrDeletedUserIsForbidden) {
  auto store = open();
  ASSERT_TRUE(store->heartbeat("n1").ok());
  Result<uint64_t> missing = store->attach("nobody", "n1");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::forbidden);

  create_users(*store, {"bob"});
  ASSERT_TRUE(store->attach("bob", "n1").ok());
  ASSERT_TRUE(testing::delete_user(*store, "bob").ok());
  EXPECT_EQ(store->attach("bob", "n1").error().code, Errc::forbidden);
  EXPECT_EQ(*store->connection_counts({"bob"}), std::vector<std::size_t>{0});
  EXPECT_EQ(schema_->exec("SELECT count(*) FROM presence"), "0");
}

TEST_F(PostgresStoreTest, DetachCountsOneConnectionFewerAndRemovesTheLast) {
  auto store = open();
  create_users(*store, {"bob"});
  ASSERT_TRUE(store->heartbeat("n1").ok());
  ASSERT_TRUE(store->attach("bob", "n1").ok());
  ASSERT_TRUE(store->attach("bob", "n1").ok());

  store->detach("bob", "n1");
  flush(*store);
  EXPECT_EQ(*store->connection_counts({"bob"}), std::vector<std::size_t>{1});
  EXPECT_EQ(*store->nodes_of("bob"), Strings{"n1"});

  store->detach("bob", "n1");
  store->detach("bob", "n1");  // one too many: nothing to count down
  flush(*store);
  EXPECT_EQ(*store->connection_counts({"bob"}), std::vector<std::size_t>{0});
  EXPECT_TRUE(store->nodes_of("bob")->empty());
  EXPECT_EQ(schema_->exec("SELECT count(*) FROM presence"), "0");
}

TEST_F(PostgresStoreTest, HeartbeatIsTrueForANewNodeAndFalseAfterwards) {
  auto store = open();
  EXPECT_TRUE(*store->heartbeat("n1"));
  EXPECT_FALSE(*store->heartbeat("n1"));
  EXPECT_FALSE(*store->heartbeat("n1"));
  EXPECT_TRUE(*store->heartbeat("n2"));
}

TEST_F(PostgresStoreTest, ReapRemovesSilentNodesWithTheirPresenceAndReturnsTheirIds) {
  auto store = open();
  create_users(*store, {"bob"});
  for (const char* node : {"n1", "n2", "n3"}) ASSERT_TRUE(store->heartbeat(node).ok());
  ASSERT_TRUE(store->attach("bob", "n1").ok());
  ASSERT_TRUE(store->attach("bob", "n2").ok());
  silence("n1");
  silence("n3");

  EXPECT_EQ(*store->reap(30s), (Strings{"n1", "n3"}));
  EXPECT_TRUE(store->reap(30s)->empty());
  EXPECT_EQ(*store->live_nodes(), Strings{"n2"});
  EXPECT_EQ(schema_->exec("SELECT count(*) FROM presence WHERE node_id = 'n1'"), "0");
  EXPECT_EQ(*store->connection_counts({"bob"}), std::vector<std::size_t>{1});
  // A reaped node that comes back is told so.
  EXPECT_TRUE(*store->heartbeat("n1"));
}

TEST_F(PostgresStoreTest, ResetPresenceReplacesTheNodesRowsAndSkipsUsersThatNoLongerExist) {
  auto store = open();
  create_users(*store, {"alice", "bob", "carol"});
  ASSERT_TRUE(store->heartbeat("n1").ok());
  ASSERT_TRUE(store->heartbeat("n2").ok());
  ASSERT_TRUE(store->attach("alice", "n1").ok());
  ASSERT_TRUE(store->attach("bob", "n1").ok());
  ASSERT_TRUE(store->attach("bob", "n2").ok());

  Status reset = store->reset_presence("n1", {{"bob", 3}, {"ghost", 1}, {"carol", 0}});
  ASSERT_TRUE(reset.ok()) << reset.error().message;
  EXPECT_EQ(*store->connection_counts({"alice", "bob", "carol", "ghost"}),
            (std::vector<std::size_t>{0, 4, 0, 0}));

  ASSERT_TRUE(store->reset_presence("n1", {}).ok());
  EXPECT_EQ(*store->connection_counts({"bob"}), std::vector<std::size_t>{1});
  EXPECT_EQ(*store->nodes_of("bob"), Strings{"n2"});
}

TEST_F(PostgresStoreTest, ResetPresenceOfANodeWithoutARowIsNotFound) {
  auto store = open();
  create_users(*store, {"bob"});
  EXPECT_EQ(store->reset_presence("n9", {{"bob", 1}}).error().code, Errc::not_found);
}

TEST_F(PostgresStoreTest, LeaveRemovesTheNodeAndItsPresence) {
  auto store = open();
  create_users(*store, {"bob"});
  ASSERT_TRUE(store->heartbeat("n1").ok());
  ASSERT_TRUE(store->heartbeat("n2").ok());
  ASSERT_TRUE(store->attach("bob", "n1").ok());
  ASSERT_TRUE(store->leave("n1").ok());
  EXPECT_EQ(*store->live_nodes(), Strings{"n2"});
  EXPECT_EQ(schema_->exec("SELECT count(*) FROM presence"), "0");
  EXPECT_TRUE(*store->heartbeat("n1"));
}

// --- schema

TEST_F(PostgresStoreTest, InstancesStartingTogetherOnAFreshSchemaAllMigrateIt) {
  constexpr int kInstances = 4;
  std::vector<std::thread> threads;
  std::vector<std::optional<Result<std::unique_ptr<PostgresStore>>>> opened(kInstances);
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back(
        [&, i] { opened[i] = PostgresStore::open(PostgresOptions{.url = schema_->url()}); });
  }
  for (std::thread& thread : threads) thread.join();
  for (auto& store : opened) ASSERT_TRUE(store->ok()) << store->error().message;
  EXPECT_EQ(schema_->exec("SELECT count(*) FROM schema_version"), "1");
  EXPECT_EQ(schema_->exec("SELECT version FROM schema_version"), "1");
  ASSERT_TRUE(create_user(*opened[0]->value(), "alice").ok());
  EXPECT_TRUE(opened[3]->value()->get_user("alice").ok());
}

TEST_F(PostgresStoreTest, ASchemaFromANewerBuildIsRefused) {
  open();
  schema_->exec("UPDATE schema_version SET version = 99");
  Result<std::unique_ptr<PostgresStore>> store =
      PostgresStore::open(PostgresOptions{.url = schema_->url()});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::internal);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos) << store.error().message;
}

// --- group commit

TEST_F(PostgresStoreTest,
       WritesQueuedTogetherAreOneTransactionAndADuplicateInsideIsAnsweredLikeTheFirst) {
  auto store = open();
  create_users(*store, {"alice", "bob"});
  std::vector<Pending<SendResult>> sent;
  uint64_t before = 0;
  {
    testing::WriterHold hold(*store);
    before = store->commits();
    for (int i = 0; i < 50; ++i) {
      sent.push_back(pending<SendResult>());
      store->append(message("alice", "bob", std::to_string(i), "hi", 1000 + i),
                    sent.back().callback);
    }
    SendRequest retry = message("alice", "bob", "7", "hi", 9999);
    retry.msg_id = "a-new-id";
    sent.push_back(pending<SendResult>());
    store->append(retry, sent.back().callback);
    store->touch_last_seen("alice", 5000);
    store->touch_last_seen("nobody", 5000);
  }
  std::vector<Result<SendResult>> results;
  for (Pending<SendResult>& p : sent) results.push_back(p.future.get());
  for (const Result<SendResult>& result : results) ASSERT_TRUE(result.ok());
  EXPECT_EQ(store->commits(), before + 1);

  const SendResult& duplicate = *results.back();
  EXPECT_TRUE(duplicate.duplicate);
  EXPECT_EQ(duplicate.msg_id, "msg-alice-7");
  EXPECT_EQ(duplicate.sender_seq, 8u);
  EXPECT_EQ(duplicate.ts, 1007);
  EXPECT_EQ(*store->last_seq("bob"), 50u);
  EXPECT_EQ(store->get_user("alice")->last_seen, 5000);
}

TEST_F(PostgresStoreTest, TextThatIsNotUtf8IsRefusedWithoutSpoilingItsBatch) {
  auto store = open();
  create_users(*store, {"alice", "bob"});
  auto invalid = pending<SendResult>();
  auto nul = pending<SendResult>();
  auto good = pending<SendResult>();
  {
    testing::WriterHold hold(*store);
    store->append(message("alice", "bob", "1", "\xff\xfe"), invalid.callback);
    store->append(message("alice", "bob", "2", std::string("nul\0inside", 10)), nul.callback);
    store->append(message("alice", "bob", "3", "caf\xc3\xa9"), good.callback);
  }
  EXPECT_EQ(invalid.future.get().error().code, Errc::bad_request);
  EXPECT_EQ(nul.future.get().error().code, Errc::bad_request);
  ASSERT_TRUE(good.future.get().ok());
  EXPECT_EQ(*store->last_seq("bob"), 1u);
  EXPECT_EQ(store->read_inbox("bob", 0, 10)->at(0).body, "caf\xc3\xa9");
  EXPECT_EQ(store->get_user("\xff").error().code, Errc::bad_request);
}

// --- an unreachable database

TEST_F(PostgresStoreTest, OpeningAnUnreachableDatabaseFailsQuicklyWithUnavailable) {
  Result<std::unique_ptr<PostgresStore>> store = make_error(Errc::internal, "");
  const auto elapsed = time_of([&] {
    store = PostgresStore::open(PostgresOptions{.url = "postgresql://chat:chat@127.0.0.1:1/chat"});
  });
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::unavailable);
  EXPECT_EQ(store.error().message.rfind("postgres: connect: ", 0), 0u) << store.error().message;
  EXPECT_LT(elapsed, 1s);
}

TEST_F(PostgresStoreTest, AUrlThatCannotBeParsedIsABadRequest) {
  Result<std::unique_ptr<PostgresStore>> store =
      PostgresStore::open(PostgresOptions{.url = "postgresql://127.0.0.1/chat?no_such_option=1"});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::bad_request);
  EXPECT_NE(store.error().message.find("no_such_option"), std::string::npos)
      << store.error().message;
}

TEST_F(PostgresStoreTest, OpeningADatabaseThatNeverAnswersFailsAfterTheConnectTimeout) {
  testing::TcpProxy proxy(schema_->host(), schema_->port());
  proxy.stall();
  Result<std::unique_ptr<PostgresStore>> store = make_error(Errc::internal, "");
  const auto elapsed = time_of([&] {
    store = PostgresStore::open(PostgresOptions{.url = schema_->url_via("127.0.0.1", proxy.port()),
                                                .connect_timeout = 300ms});
  });
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::unavailable);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 2s);
}

TEST_F(PostgresStoreTest, AStoreWhoseConnectionsWereTerminatedReconnectsOnTheNextCall) {
  auto store = open();
  create_users(*store, {"alice", "bob"});
  ASSERT_TRUE(store->heartbeat("n1").ok());
  ASSERT_TRUE(store->get_user("alice").ok());
  EXPECT_GE(schema_->terminate_store_connections(), 2);  // the writer's and a reader's

  Result<User> alice = store->get_user("alice");
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Result<SendResult> sent = send(*store, message("alice", "bob", "1"));
  ASSERT_TRUE(sent.ok()) << sent.error().message;

  EXPECT_GE(schema_->terminate_store_connections(), 2);
  Result<uint64_t> head = store->attach("bob", "n1");
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_EQ(*head, 1u);
}

TEST_F(PostgresStoreTest, CallsFailFastWhileTheDatabaseIsGoneAndSucceedOnceItIsBack) {
  const std::string host = schema_->host();
  testing::TcpProxy proxy(host.empty() || host[0] == '/' ? "127.0.0.1" : host, schema_->port());
  auto store = open(PostgresOptions{.url = schema_->url_via("127.0.0.1", proxy.port())});
  create_users(*store, {"alice", "bob"});

  // Refused, or not even tried (the breaker): never the connect timeout (2 s).
  proxy.stop();
  for (int i = 0; i < 20; ++i) {
    Result<User> user = make_error(Errc::internal, "");
    EXPECT_LT(time_of([&] { user = store->get_user("alice"); }), 500ms);
    ASSERT_FALSE(user.ok());
    EXPECT_EQ(user.error().code, Errc::unavailable);
  }
  Result<SendResult> lost = make_error(Errc::internal, "");
  EXPECT_LT(time_of([&] { lost = send(*store, message("alice", "bob", "1")); }), 500ms);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, Errc::unavailable);

  proxy.start();
  std::this_thread::sleep_for(600ms);  // past the circuit breaker's pause
  Result<User> alice = store->get_user("alice");
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Result<SendResult> sent = send(*store, message("alice", "bob", "1"));
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(sent->sender_seq, 1u);
}

TEST_F(PostgresStoreTest, AppendsCutOffMidBatchAreUnavailableAndTheirResendsStoreEachOnce) {
  const std::string host = schema_->host();
  testing::TcpProxy proxy(host.empty() || host[0] == '/' ? "127.0.0.1" : host, schema_->port());
  auto store = open(PostgresOptions{.url = schema_->url_via("127.0.0.1", proxy.port())});
  create_users(*store, {"alice", "bob"});

  constexpr int kSends = 300;
  std::vector<Pending<SendResult>> sent;
  for (int i = 0; i < kSends; ++i) {
    sent.push_back(pending<SendResult>());
    store->append(message("alice", "bob", std::to_string(i), std::to_string(i)),
                  sent.back().callback);
    if (i == kSends / 3) proxy.stop();  // whatever the writer is doing at that moment
  }
  std::vector<int> unanswered;
  for (int i = 0; i < kSends; ++i) {
    Result<SendResult> result = sent[i].future.get();
    if (!result.ok()) {
      EXPECT_EQ(result.error().code, Errc::unavailable) << result.error().message;
      unanswered.push_back(i);
    }
  }
  EXPECT_FALSE(unanswered.empty());

  proxy.start();
  std::this_thread::sleep_for(600ms);
  for (int i : unanswered) {
    const std::string id = std::to_string(i);
    Result<SendResult> resent = send(*store, message("alice", "bob", id, id));
    ASSERT_TRUE(resent.ok()) << resent.error().message;
  }
  Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 1000);
  ASSERT_TRUE(inbox.ok());
  EXPECT_EQ(seqs(*inbox), one_to(kSends));
  std::set<std::string> bodies;
  for (const InboxEntry& entry : *inbox) bodies.insert(entry.body);
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kSends));
}

TEST_F(PostgresStoreTest, AStalledDatabaseCostsOneCallerTheTimeoutAndTheOthersFailFast) {
  const std::string host = schema_->host();
  testing::TcpProxy proxy(host.empty() || host[0] == '/' ? "127.0.0.1" : host, schema_->port());
  auto store = open(PostgresOptions{.url = schema_->url_via("127.0.0.1", proxy.port()),
                                    .connect_timeout = 300ms,
                                    .statement_timeout = 300ms});
  create_users(*store, {"alice", "bob"});
  ASSERT_TRUE(store->get_user("alice").ok());

  proxy.stall();
  Result<User> first = make_error(Errc::internal, "");
  const auto waited = time_of([&] { first = store->get_user("alice"); });
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, Errc::unavailable);
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
  // The breaker: no new connection is even tried (which would take connect_timeout, 300 ms).
  for (int i = 0; i < 10; ++i) {
    Result<User> next = make_error(Errc::internal, "");
    EXPECT_LT(time_of([&] { next = store->get_user("alice"); }), 250ms);
    EXPECT_EQ(next.error().code, Errc::unavailable);
  }
  Result<SendResult> write = send(*store, message("alice", "bob", "1"));
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().code, Errc::unavailable);

  proxy.start();
  std::this_thread::sleep_for(600ms);
  ASSERT_TRUE(store->get_user("alice").ok());
  // The stalled append may or may not have been committed: the resend with its id says which.
  Result<SendResult> resent = send(*store, message("alice", "bob", "1"));
  ASSERT_TRUE(resent.ok()) << resent.error().message;
  EXPECT_EQ(resent->sender_seq, 1u);
}

}  // namespace
}  // namespace chat::store
