// One contract, run against every Store implementation.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fakes/in_memory_store.h"
#include "store/postgres/postgres_store.h"
#include "store/rocksdb/rocks_store.h"
#include "unit/store/postgres_test_util.h"
#include "unit/store/store_test_util.h"

namespace chat::store {
namespace {

using testing::create_user;
using testing::delete_user;
using testing::flush;
using testing::message;
using testing::send;

// Each implementation: its name, how to make a fresh store (null, with skip_reason, when the
// service it needs is not configured), and whether its callbacks run on a thread of its own (then a
// test can hold that thread to force writes into one batch).
struct Rocks {
  static constexpr const char* kName = "Rocks";
  static constexpr bool kOwnWriterThread = true;
  testing::TempDir dir;
  std::string skip_reason;
  std::unique_ptr<Store> make() {
    Result<std::unique_ptr<RocksStore>> store = RocksStore::open(dir.file("rocksdb"));
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }
};

struct InMemory {
  static constexpr const char* kName = "InMemory";
  static constexpr bool kOwnWriterThread = false;
  std::string skip_reason;
  std::unique_ptr<Store> make() { return std::make_unique<InMemoryStore>(); }
};

// A fresh schema per test on CHAT_TEST_DATABASE_URL, dropped afterwards.
struct Postgres {
  static constexpr const char* kName = "Postgres";
  static constexpr bool kOwnWriterThread = true;
  std::unique_ptr<testing::TestSchema> schema;
  std::string skip_reason;
  std::unique_ptr<Store> make() {
    const char* url = testing::test_database_url();
    if (url == nullptr) {
      skip_reason = testing::kNoTestDatabase;
      return nullptr;
    }
    schema = std::make_unique<testing::TestSchema>(url);
    Result<std::unique_ptr<PostgresStore>> store =
        PostgresStore::open(PostgresOptions{.url = schema->url()});
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }
};

template <typename Impl>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = impl_.make();
    if (store_ == nullptr) {
      if (testing::services_required()) FAIL() << impl_.skip_reason;
      GTEST_SKIP() << impl_.skip_reason;
    }
  }

  Store& store() { return *store_; }

  // Holds the writer if the store has one: writes issued before release() share one batch.
  std::unique_ptr<testing::WriterHold> hold_writer() {
    if constexpr (Impl::kOwnWriterThread) return std::make_unique<testing::WriterHold>(*store_);
    return nullptr;
  }

  void create_users(std::initializer_list<std::string> names) {
    for (const std::string& name : names) ASSERT_TRUE(create_user(*store_, name).ok()) << name;
  }

  // Alice's inbox: 1 a->b 1, 2 c->a, 3 b->a, 4 a->c, 5 a->a (a note to self), 6 a->b 2.
  void alice_talks_with_bob_carol_and_herself() {
    create_users({"alice", "bob", "carol"});
    const std::vector<std::vector<std::string>> sends = {
        {"alice", "bob", "1", "a->b 1"}, {"carol", "alice", "1", "c->a"},
        {"bob", "alice", "1", "b->a"},   {"alice", "carol", "2", "a->c"},
        {"alice", "alice", "3", "a->a"}, {"alice", "bob", "4", "a->b 2"}};
    for (const auto& m : sends) {
      ASSERT_TRUE(send(*store_, message(m[0], m[1], m[2], m[3])).ok()) << m[3];
    }
  }

  std::vector<uint64_t> seqs(const std::vector<InboxEntry>& entries) {
    std::vector<uint64_t> out;
    for (const InboxEntry& entry : entries) out.push_back(entry.seq);
    return out;
  }

  std::vector<std::string> bodies(const std::vector<InboxEntry>& entries) {
    std::vector<std::string> out;
    for (const InboxEntry& entry : entries) out.push_back(entry.body);
    return out;
  }

  std::vector<std::string> names(const UserPage& page) {
    std::vector<std::string> out;
    for (const User& user : page.users) out.push_back(user.username);
    return out;
  }

  Impl impl_;  // before store_: the data files or the schema must outlive the store
  std::unique_ptr<Store> store_;
};

struct ImplName {
  template <typename Impl>
  static std::string GetName(int) {
    return Impl::kName;
  }
};

using Implementations = ::testing::Types<Rocks, InMemory, Postgres>;
TYPED_TEST_SUITE(StoreContractTest, Implementations, ImplName);

// --- users

TYPED_TEST(StoreContractTest, CreatedUserCanBeRead) {
  Result<User> created = create_user(this->store(), "alice", 1234);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->username, "alice");
  EXPECT_EQ(created->created_at, 1234);
  EXPECT_FALSE(created->last_seen.has_value());

  Result<User> read = this->store().get_user("alice");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->username, "alice");
  EXPECT_EQ(read->created_at, 1234);
  EXPECT_FALSE(read->last_seen.has_value());
}

TYPED_TEST(StoreContractTest, CreatingAnExistingUserIsAConflict) {
  this->create_users({"alice"});
  Result<User> again = create_user(this->store(), "alice", 9999);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_EQ(this->store().get_user("alice")->created_at, 1000);
}

TYPED_TEST(StoreContractTest, MissingUserIsNotFound) {
  Result<User> user = this->store().get_user("nobody");
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, Errc::not_found);
}

TYPED_TEST(StoreContractTest, ListUsersPagesInUsernameOrder) {
  this->create_users({"erin", "carol", "alice", "dave", "bob"});

  Result<UserPage> first = this->store().list_users("", 2);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(this->names(*first), (std::vector<std::string>{"alice", "bob"}));
  ASSERT_EQ(first->next, "bob");

  Result<UserPage> second = this->store().list_users(*first->next, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(this->names(*second), (std::vector<std::string>{"carol", "dave"}));
  ASSERT_EQ(second->next, "dave");

  Result<UserPage> last = this->store().list_users(*second->next, 2);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(this->names(*last), (std::vector<std::string>{"erin"}));
  EXPECT_FALSE(last->next.has_value());
}

TYPED_TEST(StoreContractTest, ListUsersHasNoNextPageWhenExactlyLimitRemain) {
  this->create_users({"alice", "bob", "carol"});
  Result<UserPage> page = this->store().list_users("alice", 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(this->names(*page), (std::vector<std::string>{"bob", "carol"}));
  EXPECT_FALSE(page->next.has_value());
}

TYPED_TEST(StoreContractTest, ReadsRejectALimitBelowOne) {
  EXPECT_EQ(this->store().list_users("", 0).error().code, Errc::bad_request);
  EXPECT_EQ(this->store().read_inbox("alice", 0, 0).error().code, Errc::bad_request);
  EXPECT_EQ(this->store().history("alice", "bob", 0, -1).error().code, Errc::bad_request);
}

TYPED_TEST(StoreContractTest, TouchLastSeenRecordsTheTimeAndIgnoresMissingUsers) {
  this->create_users({"alice"});
  this->store().touch_last_seen("alice", 5000);
  this->store().touch_last_seen("nobody", 5000);
  flush(this->store());
  Result<User> alice = this->store().get_user("alice");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->last_seen, 5000);
  EXPECT_EQ(this->store().get_user("nobody").error().code, Errc::not_found);
}

TYPED_TEST(StoreContractTest, DeleteUserRemovesTheUserAndTheirInboxOnly) {
  this->create_users({"alice", "bob"});
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "c1")).ok());

  ASSERT_TRUE(delete_user(this->store(), "alice").ok());
  EXPECT_EQ(this->store().get_user("alice").error().code, Errc::not_found);
  EXPECT_EQ(*this->store().last_seq("alice"), 0u);
  EXPECT_TRUE(this->store().read_inbox("alice", 0, 10)->empty());
  // Bob keeps his copy.
  Result<std::vector<InboxEntry>> bob = this->store().read_inbox("bob", 0, 10);
  ASSERT_TRUE(bob.ok());
  ASSERT_EQ(bob->size(), 1u);
  EXPECT_EQ((*bob)[0].from, "alice");
}

TYPED_TEST(StoreContractTest, DeletingAMissingUserIsNotFound) {
  Status deleted = delete_user(this->store(), "nobody");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, Errc::not_found);
}

TYPED_TEST(StoreContractTest, RecreatedUserStartsAFreshInboxAndForgetsTheirKeys) {
  this->create_users({"alice", "bob"});
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "c1")).ok());
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "c2")).ok());
  ASSERT_TRUE(delete_user(this->store(), "alice").ok());
  this->create_users({"alice"});

  Result<SendResult> sent = send(this->store(), message("alice", "bob", "c1", "again"));
  ASSERT_TRUE(sent.ok());
  EXPECT_FALSE(sent->duplicate);
  EXPECT_EQ(sent->sender_seq, 1u);
  EXPECT_EQ(*this->store().last_seq("alice"), 1u);
  EXPECT_EQ(*this->store().last_seq("bob"), 3u);
}

// --- append

TYPED_TEST(StoreContractTest, AppendStoresOneEntryPerInboxWithGaplessSeqs) {
  this->create_users({"alice", "bob"});
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "a1")).ok());
  ASSERT_TRUE(send(this->store(), message("bob", "alice", "b1")).ok());

  Result<SendResult> sent = send(this->store(), message("alice", "bob", "a2", "third", 4242));
  ASSERT_TRUE(sent.ok());
  EXPECT_FALSE(sent->duplicate);
  EXPECT_EQ(sent->msg_id, "msg-alice-a2");
  EXPECT_EQ(sent->ts, 4242);
  ASSERT_EQ(sent->entries.size(), 2u);
  const InboxEntry& to_bob = sent->entries[0];
  const InboxEntry& to_alice = sent->entries[1];
  EXPECT_EQ(to_bob.owner, "bob");
  EXPECT_EQ(to_alice.owner, "alice");
  EXPECT_EQ(to_bob.seq, 3u);
  EXPECT_EQ(to_alice.seq, 3u);
  EXPECT_EQ(sent->sender_seq, 3u);
  for (const InboxEntry& entry : sent->entries) {
    EXPECT_EQ(entry.msg_id, "msg-alice-a2");
    EXPECT_EQ(entry.from, "alice");
    EXPECT_EQ(entry.to, "bob");
    EXPECT_EQ(entry.body, "third");
    EXPECT_EQ(entry.ts, 4242);
  }

  for (const char* owner : {"alice", "bob"}) {
    Result<std::vector<InboxEntry>> inbox = this->store().read_inbox(owner, 0, 10);
    ASSERT_TRUE(inbox.ok());
    EXPECT_EQ(this->seqs(*inbox), (std::vector<uint64_t>{1, 2, 3})) << owner;
    EXPECT_EQ(this->bodies(*inbox), (std::vector<std::string>{"hello", "hello", "third"}));
  }
}

TYPED_TEST(StoreContractTest, SeqsOfTwoInboxesAdvanceIndependently) {
  this->create_users({"alice", "bob", "carol"});
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "1")).ok());
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "2")).ok());
  Result<SendResult> sent = send(this->store(), message("carol", "alice", "1"));
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->entries[0].seq, 3u);  // alice's third entry
  EXPECT_EQ(sent->entries[1].seq, 1u);  // carol's first
  EXPECT_EQ(sent->sender_seq, 1u);
}

TYPED_TEST(StoreContractTest, MessageToSelfIsOneEntry) {
  this->create_users({"alice"});
  Result<SendResult> sent = send(this->store(), message("alice", "alice", "note"));
  ASSERT_TRUE(sent.ok());
  ASSERT_EQ(sent->entries.size(), 1u);
  EXPECT_EQ(sent->entries[0].owner, "alice");
  EXPECT_EQ(sent->entries[0].seq, 1u);
  EXPECT_EQ(sent->sender_seq, 1u);
  EXPECT_EQ(*this->store().last_seq("alice"), 1u);
}

TYPED_TEST(StoreContractTest, RetryReturnsTheOriginalAndStoresNothing) {
  this->create_users({"alice", "bob"});
  Result<SendResult> first = send(this->store(), message("alice", "bob", "c1", "hi", 1000));
  ASSERT_TRUE(first.ok());

  SendRequest retry = message("alice", "bob", "c1", "hi", 2000);
  retry.msg_id = "a-new-id";
  Result<SendResult> second = send(this->store(), retry);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->msg_id, first->msg_id);
  EXPECT_EQ(second->sender_seq, first->sender_seq);
  EXPECT_EQ(second->ts, 1000);
  EXPECT_TRUE(second->entries.empty());
  EXPECT_EQ(*this->store().last_seq("alice"), 1u);
  EXPECT_EQ(*this->store().last_seq("bob"), 1u);
}

TYPED_TEST(StoreContractTest, ClientIdsAreScopedToTheSender) {
  this->create_users({"alice", "bob"});
  ASSERT_FALSE(send(this->store(), message("alice", "bob", "c1"))->duplicate);
  ASSERT_FALSE(send(this->store(), message("bob", "alice", "c1"))->duplicate);
  EXPECT_EQ(*this->store().last_seq("bob"), 2u);
}

TYPED_TEST(StoreContractTest, SecondOfTwoSendsWithOneKeyInOneBatchIsADuplicate) {
  this->create_users({"alice", "bob"});
  auto hold = this->hold_writer();
  auto first = testing::pending<SendResult>();
  auto second = testing::pending<SendResult>();
  SendRequest retry = message("alice", "bob", "c1", "hi", 2000);
  retry.msg_id = "a-new-id";
  this->store().append(message("alice", "bob", "c1", "hi", 1000), first.callback);
  this->store().append(retry, second.callback);
  if (hold) hold->release();

  Result<SendResult> original = first.future.get();
  Result<SendResult> duplicate = second.future.get();
  ASSERT_TRUE(original.ok());
  ASSERT_TRUE(duplicate.ok());
  EXPECT_FALSE(original->duplicate);
  EXPECT_TRUE(duplicate->duplicate);
  EXPECT_EQ(duplicate->msg_id, "msg-alice-c1");
  EXPECT_EQ(duplicate->sender_seq, original->sender_seq);
  EXPECT_EQ(duplicate->ts, 1000);
  EXPECT_EQ(*this->store().last_seq("bob"), 1u);
}

TYPED_TEST(StoreContractTest, SendToAMissingUserIsUnknownRecipientAndStoresNothing) {
  this->create_users({"alice"});
  Result<SendResult> sent = send(this->store(), message("alice", "nobody", "c1"));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::unknown_recipient);
  EXPECT_EQ(*this->store().last_seq("alice"), 0u);

  // The key was not recorded: once the recipient exists, the retry goes through.
  this->create_users({"nobody"});
  Result<SendResult> retried = send(this->store(), message("alice", "nobody", "c1"));
  ASSERT_TRUE(retried.ok());
  EXPECT_FALSE(retried->duplicate);
}

TYPED_TEST(StoreContractTest, SendFromAMissingUserIsForbidden) {
  this->create_users({"bob"});
  Result<SendResult> sent = send(this->store(), message("ghost", "bob", "c1"));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::forbidden);
  EXPECT_EQ(*this->store().last_seq("bob"), 0u);
}

TYPED_TEST(StoreContractTest, FailedWritesDoNotSpoilTheOthersInTheirBatch) {
  this->create_users({"alice", "bob"});
  auto hold = this->hold_writer();
  auto lost = testing::pending<SendResult>();
  auto delivered = testing::pending<SendResult>();
  auto conflict = testing::pending<User>();
  auto created = testing::pending<User>();
  this->store().append(message("alice", "nobody", "c1"), lost.callback);
  this->store().append(message("alice", "bob", "c2"), delivered.callback);
  this->store().create_user("bob", 1, conflict.callback);
  this->store().create_user("carol", 1, created.callback);
  if (hold) hold->release();

  EXPECT_EQ(lost.future.get().error().code, Errc::unknown_recipient);
  Result<SendResult> sent = delivered.future.get();
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->sender_seq, 1u);
  EXPECT_EQ(conflict.future.get().error().code, Errc::conflict);
  EXPECT_TRUE(created.future.get().ok());
  EXPECT_TRUE(this->store().get_user("carol").ok());
  EXPECT_EQ(*this->store().last_seq("bob"), 1u);
}

// --- reads

TYPED_TEST(StoreContractTest, ReadInboxReturnsEntriesAfterASeqUpToALimit) {
  this->create_users({"alice", "bob"});
  for (const char* id : {"1", "2", "3", "4", "5"}) {
    ASSERT_TRUE(send(this->store(), message("alice", "bob", id, id)).ok());
  }
  Result<std::vector<InboxEntry>> page = this->store().read_inbox("bob", 1, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(this->seqs(*page), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(this->bodies(*page), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(this->seqs(*this->store().read_inbox("bob", 3, 10)), (std::vector<uint64_t>{4, 5}));
  EXPECT_TRUE(this->store().read_inbox("bob", 5, 10)->empty());
  EXPECT_TRUE(this->store().read_inbox("nobody", 0, 10)->empty());
}

TYPED_TEST(StoreContractTest, HistoryIsTheConversationWithOnePeerNewestFirst) {
  this->alice_talks_with_bob_carol_and_herself();

  Result<std::vector<InboxEntry>> all = this->store().history("alice", "bob", 0, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(this->seqs(*all), (std::vector<uint64_t>{6, 3, 1}));
  EXPECT_EQ(this->bodies(*all), (std::vector<std::string>{"a->b 2", "b->a", "a->b 1"}));

  EXPECT_EQ(this->seqs(*this->store().history("alice", "bob", 6, 1)), (std::vector<uint64_t>{3}));
  EXPECT_EQ(this->seqs(*this->store().history("alice", "bob", 3, 10)), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(this->store().history("alice", "bob", 1, 10)->empty());
  EXPECT_EQ(this->seqs(*this->store().history("alice", "carol", 0, 10)),
            (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(this->seqs(*this->store().history("alice", "alice", 0, 10)),
            (std::vector<uint64_t>{5}));
  // Bob's side of the same conversation, in his own seqs.
  EXPECT_EQ(this->bodies(*this->store().history("bob", "alice", 0, 10)),
            (std::vector<std::string>{"a->b 2", "b->a", "a->b 1"}));
  EXPECT_EQ(this->seqs(*this->store().history("bob", "alice", 0, 10)),
            (std::vector<uint64_t>{3, 2, 1}));
}

TYPED_TEST(StoreContractTest, ConversationsAreThePeersByTheirLatestEntryNewestFirst) {
  this->alice_talks_with_bob_carol_and_herself();
  this->create_users({"dave"});
  ASSERT_TRUE(send(this->store(), message("bob", "dave", "2", "b->d")).ok());

  auto peers = [](const std::vector<Conversation>& cs) {
    std::vector<std::string> out;
    for (const Conversation& c : cs) out.push_back(c.peer + ":" + std::to_string(c.last.seq));
    return out;
  };
  Result<std::vector<Conversation>> all = this->store().conversations("alice", 0, 10);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(peers(*all), (std::vector<std::string>{"bob:6", "alice:5", "carol:4"}));
  const InboxEntry& latest = (*all)[0].last;
  EXPECT_EQ(latest.owner, "alice");
  EXPECT_EQ(latest.from, "alice");
  EXPECT_EQ(latest.to, "bob");
  EXPECT_EQ(latest.body, "a->b 2");
  EXPECT_FALSE(latest.msg_id.empty());
  EXPECT_GT(latest.ts, 0);
  EXPECT_EQ((*all)[2].last.body, "a->c");

  // Pages: before is the last seq of the previous page.
  EXPECT_EQ(peers(*this->store().conversations("alice", 0, 2)),
            (std::vector<std::string>{"bob:6", "alice:5"}));
  EXPECT_EQ(peers(*this->store().conversations("alice", 5, 2)),
            (std::vector<std::string>{"carol:4"}));
  EXPECT_TRUE(this->store().conversations("alice", 4, 10)->empty());
  // Bob's own view: his seqs, and a peer (dave) alice has never talked to.
  EXPECT_EQ(peers(*this->store().conversations("bob", 0, 10)),
            (std::vector<std::string>{"dave:4", "alice:3"}));
  EXPECT_TRUE(this->store().conversations("nobody", 0, 10)->empty());
  EXPECT_EQ(this->store().conversations("alice", 0, 0).error().code, Errc::bad_request);
}

TYPED_TEST(StoreContractTest, ConversationsFollowTheLatestEntryOfManyPeers) {
  // Names that are prefixes of each other ("u1", "u10") and a conversation revived later.
  this->create_users({"me"});
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(create_user(this->store(), "u" + std::to_string(i)).ok());
  for (int i = 0; i < 12; ++i) {
    const std::string peer = "u" + std::to_string(i);
    ASSERT_TRUE(send(this->store(), message(peer, "me", "x" + peer, "hi " + peer)).ok());
  }
  ASSERT_TRUE(send(this->store(), message("me", "u1", "again", "back to u1")).ok());  // me 13
  Result<std::vector<Conversation>> all = this->store().conversations("me", 0, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 12u);
  EXPECT_EQ((*all)[0].peer, "u1");
  EXPECT_EQ((*all)[0].last.seq, 13u);
  EXPECT_EQ((*all)[0].last.body, "back to u1");
  EXPECT_EQ((*all)[1].peer, "u11");
  EXPECT_EQ((*all)[11].peer, "u0");
  std::vector<uint64_t> seqs;
  for (const Conversation& c : *all) seqs.push_back(c.last.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 1}));
}

TYPED_TEST(StoreContractTest, FindUsersReturnsThoseThatExistInTheOrderAsked) {
  this->create_users({"alice", "bob", "carol"});
  Result<std::vector<User>> found = this->store().find_users({"carol", "nobody", "alice"});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].username, "carol");
  EXPECT_EQ((*found)[1].username, "alice");
  EXPECT_GT((*found)[1].created_at, 0);
  EXPECT_TRUE(this->store().find_users({})->empty());
}

TYPED_TEST(StoreContractTest, LastSeqIsTheHighestSeqOrZero) {
  this->create_users({"alice", "bob"});
  EXPECT_EQ(*this->store().last_seq("alice"), 0u);
  EXPECT_EQ(*this->store().last_seq("nobody"), 0u);
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "1")).ok());
  ASSERT_TRUE(send(this->store(), message("alice", "bob", "2")).ok());
  EXPECT_EQ(*this->store().last_seq("bob"), 2u);
}

TYPED_TEST(StoreContractTest, WritesAfterDrainAreUnavailable) {
  this->create_users({"alice", "bob"});
  this->store().drain();
  EXPECT_EQ(create_user(this->store(), "carol").error().code, Errc::unavailable);
  EXPECT_EQ(send(this->store(), message("alice", "bob", "1")).error().code, Errc::unavailable);
  EXPECT_EQ(delete_user(this->store(), "alice").error().code, Errc::unavailable);
  EXPECT_TRUE(this->store().get_user("alice").ok());  // reads still work
  EXPECT_EQ(*this->store().last_seq("bob"), 0u);
}

}  // namespace
}  // namespace chat::store
