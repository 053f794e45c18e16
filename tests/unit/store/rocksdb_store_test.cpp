// What only RocksStore promises: durability across a restart with its in-memory state rebuilt,
// group commit, drain, and a failed commit that leaves nothing behind, then or after a restart.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/rocksdb/keys.h"
#include "store/rocksdb/rocks_store.h"
#include "store/rocksdb/writer.h"
#include "unit/store/store_test_util.h"

namespace chat::store {
namespace {

using testing::create_user;
using testing::delete_user;
using testing::message;
using testing::send;

class RocksStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksStore> open(RocksOptions options = {}) {
    Result<std::unique_ptr<RocksStore>> store = RocksStore::open(path_, options);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  // Keys of one table (their first byte), read with RocksDB itself while the store is closed.
  int count_keys(char table) {
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path_, &raw);
    if (!s.ok()) throw std::runtime_error(s.ToString());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    int n = 0;
    for (it->Seek(std::string(1, table)); it->Valid() && it->key()[0] == table; it->Next()) ++n;
    return n;
  }

  // A user's last_seen as the database holds it, read beside the open store (a read-only
  // instance), not through the store's view of what is still pending.
  std::optional<int64_t> last_seen_on_disk(const std::string& name) {
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path_, &raw);
    if (!s.ok()) throw std::runtime_error(s.ToString());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    s = db->Get(rocksdb::ReadOptions(), rocks::keys::user(name), &value);
    if (!s.ok()) throw std::runtime_error(s.ToString());
    return rocks::keys::decode_user(value).value().last_seen;
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.file("rocksdb");
};

// Not "s" + std::to_string(t): gcc 12 warns falsely about it (-Wrestrict, bug 105329).
std::string sender_name(int t) {
  std::string name = "s";
  name += std::to_string(t);
  return name;
}

TEST_F(RocksStoreTest, ReopeningKeepsUsersInboxesAndIdempotencyKeys) {
  {
    std::unique_ptr<RocksStore> store = open();
    ASSERT_TRUE(create_user(*store, "alice", 100).ok());
    ASSERT_TRUE(create_user(*store, "bob", 200).ok());
    ASSERT_TRUE(send(*store, message("alice", "bob", "c1", "before restart")).ok());
    store->touch_last_seen("bob", 300);
  }
  std::unique_ptr<RocksStore> store = open();
  EXPECT_EQ(store->get_user("alice")->created_at, 100);
  EXPECT_EQ(store->get_user("bob")->last_seen, 300);
  Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].body, "before restart");
  EXPECT_EQ((*inbox)[0].from, "alice");

  EXPECT_TRUE(send(*store, message("alice", "bob", "c1"))->duplicate);
  Result<SendResult> next = send(*store, message("alice", "bob", "c2"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->sender_seq, 2u);
  EXPECT_TRUE(create_user(*store, "alice").error().code == Errc::conflict);
}

TEST_F(RocksStoreTest, LastSeenIsReadAtOnceAndWrittenWithinAnIntervalWithNoOtherWrite) {
  std::unique_ptr<RocksStore> store = open();
  ASSERT_TRUE(create_user(*store, "bob", 100).ok());
  for (int64_t t = 1; t <= 1000; ++t) store->touch_last_seen("bob", t);
  store->touch_last_seen("bob", 500);  // an older time never replaces a newer one
  EXPECT_EQ(store->get_user("bob")->last_seen, 1000);
  EXPECT_EQ(store->list_users("", 10)->users.at(0).last_seen, 1000);

  // Nothing else is queued: the writer's own wake-up writes it, within about kTouchInterval.
  const auto deadline = std::chrono::steady_clock::now() + 10 * rocks::Writer::kTouchInterval;
  std::optional<int64_t> on_disk;
  while ((on_disk = last_seen_on_disk("bob")) != 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(on_disk, 1000);
  EXPECT_EQ(store->get_user("bob")->created_at, 100);
}

TEST_F(RocksStoreTest, LastSeenOfMoreUsersThanOneCommitTakesIsAllWrittenByADrain) {
  const int users = 3 * static_cast<int>(rocks::Writer::kTouchesPerCommit) + 7;
  {
    std::unique_ptr<RocksStore> store = open();
    for (int i = 0; i < users; ++i) ASSERT_TRUE(create_user(*store, sender_name(i)).ok());
    for (int i = 0; i < users; ++i) store->touch_last_seen(sender_name(i), 1000 + i);
  }
  std::unique_ptr<RocksStore> store = open();
  for (int i = 0; i < users; ++i) EXPECT_EQ(store->get_user(sender_name(i))->last_seen, 1000 + i);
}

TEST_F(RocksStoreTest, HeadsAreReloadedAfterReopening) {
  {
    std::unique_ptr<RocksStore> store = open();
    ASSERT_TRUE(create_user(*store, "alice").ok());
    ASSERT_TRUE(create_user(*store, "bob").ok());
    ASSERT_TRUE(create_user(*store, "carol").ok());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(send(*store, message("alice", "bob", std::to_string(i))).ok());
    }
    ASSERT_TRUE(send(*store, message("carol", "alice", "x")).ok());
  }
  std::unique_ptr<RocksStore> store = open();
  EXPECT_EQ(*store->last_seq("alice"), 6u);
  Result<SendResult> sent = send(*store, message("bob", "alice", "y"));
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->entries[0].seq, 7u);  // alice's
  EXPECT_EQ(sent->entries[1].seq, 6u);  // bob's
  EXPECT_EQ(send(*store, message("carol", "carol", "note"))->sender_seq, 2u);
}

TEST_F(RocksStoreTest, AnIdempotencyKeyOlderThanTheCacheIsStillADuplicate) {
  {
    std::unique_ptr<RocksStore> store = open({.send_key_cache = 4});
    ASSERT_TRUE(create_user(*store, "alice").ok());
    ASSERT_TRUE(create_user(*store, "bob").ok());
    ASSERT_TRUE(send(*store, message("alice", "bob", "old", "first", 111)).ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(send(*store, message("alice", "bob", std::to_string(i))).ok());
    }
    Result<SendResult> evicted = send(*store, message("alice", "bob", "old"));
    ASSERT_TRUE(evicted.ok());
    EXPECT_TRUE(evicted->duplicate);
    EXPECT_EQ(evicted->sender_seq, 1u);
    EXPECT_EQ(evicted->ts, 111);
  }
  std::unique_ptr<RocksStore> store = open({.send_key_cache = 4});
  Result<SendResult> again = send(*store, message("alice", "bob", "old"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->msg_id, "msg-alice-old");
  EXPECT_EQ(again->sender_seq, 1u);
  EXPECT_EQ(*store->last_seq("bob"), 21u);
}

TEST_F(RocksStoreTest, ARecreatedUsersOldKeysAreForgottenEvenWhenCachedOrOnDisk) {
  std::unique_ptr<RocksStore> store = open();
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());
  ASSERT_TRUE(send(*store, message("alice", "bob", "c1")).ok());
  {
    // Delete and re-create in one batch: the keys on disk are still there while it is built.
    testing::WriterHold hold(*store);
    auto deleted = testing::pending<Ok>();
    auto created = testing::pending<User>();
    auto sent = testing::pending<SendResult>();
    store->delete_user("alice", deleted.callback);
    store->create_user("alice", 2000, created.callback);
    store->append(message("alice", "bob", "c1", "new"), sent.callback);
    hold.release();
    ASSERT_TRUE(deleted.future.get().ok());
    ASSERT_TRUE(created.future.get().ok());
    Result<SendResult> result = sent.future.get();
    ASSERT_TRUE(result.ok());
    EXPECT_FALSE(result->duplicate);
    EXPECT_EQ(result->sender_seq, 1u);
  }
  store.reset();
  store = open();
  EXPECT_EQ(*store->last_seq("alice"), 1u);
  EXPECT_EQ(store->get_user("alice")->created_at, 2000);
  EXPECT_TRUE(send(*store, message("alice", "bob", "c1"))->duplicate);
}

TEST_F(RocksStoreTest, ConcurrentSendsGetGaplessSeqsAndShareCommits) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::unique_ptr<RocksStore> store = open();
  ASSERT_TRUE(create_user(*store, "hub").ok());
  for (int t = 0; t < kThreads; ++t) ASSERT_TRUE(create_user(*store, sender_name(t)).ok());
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
      EXPECT_EQ(sent->sender_seq, static_cast<uint64_t>(i + 1));
      hub_seqs.insert(sent->entries[0].seq);
    }
  }
  EXPECT_EQ(hub_seqs.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*hub_seqs.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
  Result<std::vector<InboxEntry>> inbox = store->read_inbox("hub", 0, 10 * kThreads * kPerThread);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (std::size_t i = 0; i < inbox->size(); ++i) EXPECT_EQ((*inbox)[i].seq, i + 1);

  const uint64_t commits = store->commits() - commits_before;
  RecordProperty("commits", std::to_string(commits));
  EXPECT_LT(commits, static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(RocksStoreTest, ReadersSeeACommittedGaplessPrefixWhileWritesGoOn) {
  constexpr int kSends = 300;
  std::unique_ptr<RocksStore> store = open();
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());

  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> readers;
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
          if ((*inbox)[i].seq != i + 1 || (*inbox)[i].body != "hello") ++violations;
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
}

TEST_F(RocksStoreTest, WritesQueuedWhileTheWriterIsBusyShareOneCommit) {
  std::unique_ptr<RocksStore> store = open();
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

TEST_F(RocksStoreTest, ABatchHoldsAtMostMaxBatchWrites) {
  std::unique_ptr<RocksStore> store = open({.max_batch = 16});
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

TEST_F(RocksStoreTest, DrainRunsEveryCallbackThenRejectsWritesInline) {
  std::unique_ptr<RocksStore> store = open();
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
  EXPECT_EQ(rejected, Errc::unavailable);
  store->drain();
}

TEST_F(RocksStoreTest, DestroyingTheStoreCommitsWhatWasQueued) {
  std::atomic<int> answered{0};
  {
    std::unique_ptr<RocksStore> store = open();
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

TEST_F(RocksStoreTest, AFailedCommitIsUnavailableLeavesNothingAndTheStoreRecovers) {
  auto faults = std::make_shared<FileFaults>();
  {
    std::unique_ptr<RocksStore> store = open({.faults = faults});
    ASSERT_TRUE(create_user(*store, "alice").ok());
    ASSERT_TRUE(create_user(*store, "bob").ok());
    ASSERT_TRUE(send(*store, message("alice", "bob", "c0", "kept")).ok());

    faults->fail(true);
    {
      testing::WriterHold hold(*store);
      auto sent = testing::pending<SendResult>();
      auto created = testing::pending<User>();
      store->append(message("alice", "bob", "c1", "lost"), sent.callback);
      store->create_user("carol", 1, created.callback);
      hold.release();
      Result<SendResult> send_result = sent.future.get();
      ASSERT_FALSE(send_result.ok());
      EXPECT_EQ(send_result.error().code, Errc::unavailable);
      EXPECT_EQ(created.future.get().error().code, Errc::unavailable);
    }
    // While the fault lasts, writes keep failing.
    EXPECT_EQ(send(*store, message("alice", "bob", "c1", "lost")).error().code, Errc::unavailable);

    faults->fail(false);
    Result<SendResult> retried = send(*store, message("alice", "bob", "c1", "retried"));
    ASSERT_TRUE(retried.ok()) << retried.error().message;
    EXPECT_FALSE(retried->duplicate);
    EXPECT_EQ(retried->sender_seq, 2u);
    EXPECT_EQ(store->get_user("carol").error().code, Errc::not_found);
    Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
    ASSERT_TRUE(inbox.ok());
    ASSERT_EQ(inbox->size(), 2u);
    EXPECT_EQ((*inbox)[1].body, "retried");
  }
  // Nor does the failed batch come back from the log after a restart.
  std::unique_ptr<RocksStore> store = open();
  Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 2u);
  EXPECT_EQ((*inbox)[0].body, "kept");
  EXPECT_EQ((*inbox)[1].body, "retried");
  EXPECT_EQ(store->get_user("carol").error().code, Errc::not_found);
}

TEST_F(RocksStoreTest, OnAFullDiskWritesAreUnavailableReadsAreServedAndWritesResumeWithSpace) {
  auto faults = std::make_shared<FileFaults>();
  {
    std::unique_ptr<RocksStore> store = open({.faults = faults});
    ASSERT_TRUE(create_user(*store, "alice").ok());
    ASSERT_TRUE(create_user(*store, "bob").ok());
    ASSERT_TRUE(send(*store, message("alice", "bob", "c0", "kept")).ok());

    faults->fill_disk(true);
    EXPECT_EQ(send(*store, message("alice", "bob", "c1", "lost")).error().code, Errc::unavailable);
    // The next write reopens the database, which cannot open for writing without space...
    EXPECT_EQ(send(*store, message("alice", "bob", "c1", "lost")).error().code, Errc::unavailable);
    // ...and reads go on meanwhile.
    Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
    ASSERT_TRUE(inbox.ok()) << inbox.error().message;
    ASSERT_EQ(inbox->size(), 1u);
    EXPECT_EQ((*inbox)[0].body, "kept");
    EXPECT_EQ(*store->last_seq("alice"), 1u);
    EXPECT_TRUE(store->get_user("bob").ok());

    faults->fill_disk(false);
    Result<SendResult> retried = send(*store, message("alice", "bob", "c1", "retried"));
    ASSERT_TRUE(retried.ok()) << retried.error().message;
    EXPECT_FALSE(retried->duplicate);
    EXPECT_EQ(retried->sender_seq, 2u);
  }
  std::unique_ptr<RocksStore> store = open();
  Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 2u);
  EXPECT_EQ((*inbox)[0].body, "kept");
  EXPECT_EQ((*inbox)[1].body, "retried");
}

TEST_F(RocksStoreTest, ReadersNeverFindTheDatabaseClosedWhileTheWriterTriesToReopenIt) {
  auto faults = std::make_shared<FileFaults>();
  std::unique_ptr<RocksStore> store = open({.faults = faults});
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());
  ASSERT_TRUE(send(*store, message("alice", "bob", "c0", "kept")).ok());

  faults->fill_disk(true);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::string> failures;
  std::thread reader([&] {
    while (!done.load()) {
      Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
      if (!inbox.ok()) {
        failures.push_back(inbox.error().message);
      } else if (inbox->size() != 1) {
        failures.push_back("read " + std::to_string(inbox->size()) + " entries");
      }
      reads.fetch_add(1);
    }
  });
  // Every send fails, and each one after the first closes the database and tries to open it.
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(send(*store, message("alice", "bob", "lost" + std::to_string(i))).error().code,
              Errc::unavailable);
  }
  done.store(true);
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed reads, the first: " << failures[0];

  faults->fill_disk(false);
  ASSERT_TRUE(send(*store, message("alice", "bob", "c1", "stored")).ok());
  EXPECT_EQ(*store->last_seq("bob"), 2u);
}

TEST_F(RocksStoreTest, AFailedCommitLeftInTheLogDoesNotComeBackAfterACrash) {
  // The fault strikes, and the process ends before the store could reopen the database.
  auto faults = std::make_shared<FileFaults>();
  {
    std::unique_ptr<RocksStore> store = open({.faults = faults});
    ASSERT_TRUE(create_user(*store, "alice").ok());
    ASSERT_TRUE(create_user(*store, "bob").ok());
    faults->fail(true);
    EXPECT_EQ(send(*store, message("alice", "bob", "c1")).error().code, Errc::unavailable);
    faults->fail(false);
    ASSERT_TRUE(send(*store, message("alice", "bob", "c2")).ok());
  }
  std::unique_ptr<RocksStore> store = open();
  EXPECT_EQ(*store->last_seq("bob"), 1u);
  EXPECT_FALSE(send(*store, message("alice", "bob", "c1"))->duplicate);
}

TEST_F(RocksStoreTest, DeletingBothPartiesRemovesTheBodiesTheyShared) {
  std::unique_ptr<RocksStore> store = open();
  ASSERT_TRUE(create_user(*store, "alice").ok());
  ASSERT_TRUE(create_user(*store, "bob").ok());
  ASSERT_TRUE(send(*store, message("alice", "bob", "c1", "shared")).ok());
  ASSERT_TRUE(send(*store, message("alice", "alice", "c2", "note")).ok());
  ASSERT_TRUE(delete_user(*store, "alice").ok());
  // Bob still reads the body.
  Result<std::vector<InboxEntry>> inbox = store->read_inbox("bob", 0, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].body, "shared");
  EXPECT_EQ(store->history("bob", "alice", 0, 10)->size(), 1u);
  ASSERT_TRUE(delete_user(*store, "bob").ok());
  store.reset();
  EXPECT_EQ(count_keys('m'), 0);
  EXPECT_EQ(count_keys('e'), 0);
  EXPECT_EQ(count_keys('k'), 0);
}

TEST_F(RocksStoreTest, OpeningWhereADirectoryCannotBeCreatedIsAnError) {
  std::filesystem::create_directories(dir_.file("x"));
  { std::ofstream(dir_.file("x/file")) << "not a directory"; }
  Result<std::unique_ptr<RocksStore>> store = RocksStore::open(dir_.file("x/file/rocksdb"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::unavailable);
}

}  // namespace
}  // namespace chat::store
