// What only SqliteStore promises: durability across a restart, group commit, drain, and failing
// a whole batch when the database cannot be written.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "unit/store/store_test_util.h"

namespace chat::store {
namespace {

using namespace std::chrono_literals;
using testing::create_user;
using testing::message;
using testing::send;

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> open(SqliteOptions options = {}) {
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::open(path_, options);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.file("chat.db");
};

// Not "s" + std::to_string(t): gcc 12 warns falsely about it (-Wrestrict, bug 105329).
std::string sender_name(int t) {
  std::string name = "s";
  name += std::to_string(t);
  return name;
}

// A second, independent connection to the same file, as another process would have.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("sqlite3_open");
  }
  ~RawConnection() { sqlite3_close(db_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db_));
    }
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST_F(SqliteStoreTest, ReopeningKeepsUsersInboxesAndIdempotencyKeys) {
  {
    std::unique_ptr<SqliteStore> store = open();
    ASSERT_TRUE(create_user(*store, "alice", 100).ok());
    ASSERT_TRUE(create_user(*store, "bob", 200).ok());
    ASSERT_TRUE(send(*store, message("alice", "bob", "c1", "before restart")).ok());
    store->touch_last_seen("bob", 300);
  }
  std::unique_ptr<SqliteStore> store = open();
  EXPECT_EQ(store->get_user("alice")->created_at, 100);
  EXPECT_EQ(store->get_user("bob")->last_seen, 300);
  Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].body, "before restart");

  EXPECT_TRUE(send(*store, message("alice", "bob", "c1"))->duplicate);
  Result<SendResult> next = send(*store, message("alice", "bob", "c2"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->sender_seq, 2u);
}

TEST_F(SqliteStoreTest, ConcurrentSendsGetGaplessSeqsAndShareCommits) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::unique_ptr<SqliteStore> store = open();
  ASSERT_TRUE(create_user(*store, "hub").ok());
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(create_user(*store, sender_name(t)).ok());
  }
  const uint64_t commits_before = store->commits();

  std::vector<std::vector<std::future<Result<SendResult>>>> results(kThreads);
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto [callback, future] = testing::pending<SendResult>();
        store->append(message(sender_name(t), "hub", std::to_string(i)), callback);
        results[t].push_back(std::move(future));
      }
    });
  }
  for (std::thread& sender : senders) sender.join();

  std::set<uint64_t> hub_seqs;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      Result<SendResult> sent = results[t][i].get();
      ASSERT_TRUE(sent.ok()) << sent.error().message;
      // One thread's sends keep their order.
      EXPECT_EQ(sent->sender_seq, static_cast<uint64_t>(i + 1));
      hub_seqs.insert(sent->entries[0].seq);
    }
  }
  EXPECT_EQ(hub_seqs.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*hub_seqs.begin(), 1u);
  EXPECT_EQ(*hub_seqs.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));

  Result<std::vector<InboxEntry>> inbox = store->read_inbox("hub", 0, 10 * kThreads * kPerThread);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> msg_ids;
  for (std::size_t i = 0; i < inbox->size(); ++i) {
    EXPECT_EQ((*inbox)[i].seq, i + 1);
    msg_ids.insert((*inbox)[i].msg_id);
  }
  EXPECT_EQ(msg_ids.size(), inbox->size());

  const uint64_t commits = store->commits() - commits_before;
  RecordProperty("commits", std::to_string(commits));
  EXPECT_LT(commits, static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(SqliteStoreTest, ReadersSeeACommittedGaplessPrefixWhileWritesGoOn) {
  constexpr int kSends = 300;
  std::unique_ptr<SqliteStore> store = open();
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());

  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  std::atomic<int> violations{0};
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      uint64_t seen = 0;
      while (!done.load()) {
        Result<uint64_t> last = store->last_seq("bob");
        Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, kSends);
        if (!last.ok() || !inbox.ok() || *last < seen) ++violations;
        if (last.ok()) seen = *last;
        if (!inbox.ok()) continue;
        for (std::size_t i = 0; i < inbox->size(); ++i) {
          if ((*inbox)[i].seq != i + 1) ++violations;
        }
      }
    });
  }
  std::vector<std::future<Result<SendResult>>> sent;
  for (int i = 0; i < kSends; ++i) {
    auto [callback, future] = testing::pending<SendResult>();
    store->append(message("alice", "bob", std::to_string(i)), callback);
    sent.push_back(std::move(future));
  }
  for (auto& future : sent) ASSERT_TRUE(future.get().ok());
  done = true;
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(*store->last_seq("bob"), static_cast<uint64_t>(kSends));
}

TEST_F(SqliteStoreTest, WritesQueuedWhileTheWriterIsBusyShareOneCommit) {
  std::unique_ptr<SqliteStore> store = open();
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());

  testing::WriterHold hold(*store);
  const uint64_t commits_before = store->commits();
  std::vector<std::future<Result<SendResult>>> sent;
  for (int i = 0; i < 100; ++i) {
    auto [callback, future] = testing::pending<SendResult>();
    store->append(message("alice", "bob", std::to_string(i)), callback);
    sent.push_back(std::move(future));
  }
  hold.release();
  for (auto& future : sent) ASSERT_TRUE(future.get().ok());
  EXPECT_EQ(store->commits() - commits_before, 1u);
}

TEST_F(SqliteStoreTest, ABatchHoldsAtMostMaxBatchWrites) {
  std::unique_ptr<SqliteStore> store = open({.max_batch = 16});
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());

  testing::WriterHold hold(*store);
  const uint64_t commits_before = store->commits();
  std::vector<std::future<Result<SendResult>>> sent;
  for (int i = 0; i < 100; ++i) {
    auto [callback, future] = testing::pending<SendResult>();
    store->append(message("alice", "bob", std::to_string(i)), callback);
    sent.push_back(std::move(future));
  }
  hold.release();
  for (auto& future : sent) ASSERT_TRUE(future.get().ok());
  EXPECT_EQ(store->commits() - commits_before, 7u);  // ceil(100 / 16)
  EXPECT_EQ(*store->last_seq("bob"), 100u);
}

TEST_F(SqliteStoreTest, DrainRunsEveryCallbackThenRejectsWritesInline) {
  std::unique_ptr<SqliteStore> store = open();
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());

  std::atomic<int> answered{0};
  for (int i = 0; i < 200; ++i) {
    store->append(message("alice", "bob", std::to_string(i)), [&](Result<SendResult> sent) {
      if (sent.ok()) ++answered;
    });
  }
  store->drain();
  EXPECT_EQ(answered.load(), 200);
  EXPECT_EQ(*store->last_seq("bob"), 200u);

  std::optional<Errc> rejected;
  store->append(message("alice", "bob", "late"), [&](Result<SendResult> sent) {
    if (!sent.ok()) rejected = sent.error().code;
  });
  EXPECT_EQ(rejected, Errc::unavailable);  // already, before append returned
  store->drain();                          // a second drain is harmless
}

TEST_F(SqliteStoreTest, DestroyingTheStoreCommitsWhatWasQueued) {
  std::atomic<int> answered{0};
  {
    std::unique_ptr<SqliteStore> store = open();
    ASSERT_TRUE(create_user(*store, "alice").ok());
    ASSERT_TRUE(create_user(*store, "bob").ok());
    for (int i = 0; i < 50; ++i) {
      store->append(message("alice", "bob", std::to_string(i)),
                    [&](Result<SendResult> sent) { answered += sent.ok() ? 1 : 0; });
    }
  }
  EXPECT_EQ(answered.load(), 50);
  EXPECT_EQ(*open()->last_seq("bob"), 50u);
}

TEST_F(SqliteStoreTest, WhenTheDatabaseIsLockedTheWholeBatchIsUnavailableAndNothingIsStored) {
  std::unique_ptr<SqliteStore> store = open({.busy_timeout = 10ms});
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());

  {
    // Another process holding the write lock makes the writer's BEGIN IMMEDIATE fail.
    RawConnection other(path_);
    other.exec("BEGIN IMMEDIATE");
    auto sent = testing::pending<SendResult>();
    auto created = testing::pending<User>();
    store->append(message("alice", "bob", "c1"), sent.callback);
    store->create_user("carol", 1, created.callback);
    Result<SendResult> send_result = sent.future.get();
    ASSERT_FALSE(send_result.ok());
    EXPECT_EQ(send_result.error().code, Errc::unavailable);
    EXPECT_EQ(created.future.get().error().code, Errc::unavailable);
    other.exec("ROLLBACK");
  }

  EXPECT_EQ(*store->last_seq("bob"), 0u);
  EXPECT_EQ(store->get_user("carol").error().code, Errc::not_found);
  // The writer recovers, and the failed send's key was not kept.
  Result<SendResult> retried = send(*store, message("alice", "bob", "c1"));
  ASSERT_TRUE(retried.ok());
  EXPECT_FALSE(retried->duplicate);
  EXPECT_EQ(retried->sender_seq, 1u);
}

TEST_F(SqliteStoreTest, OpeningInAMissingDirectoryIsAnError) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::open(dir_.file("missing/chat.db"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::unavailable);
}

TEST_F(SqliteStoreTest, OpeningADatabaseFromANewerBuildIsAnError) {
  open().reset();
  RawConnection(path_).exec("PRAGMA user_version = 99");
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::internal);
}

}  // namespace
}  // namespace chat::store
