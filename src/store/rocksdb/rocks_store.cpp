#include "store/rocksdb/rocks_store.h"

#include <rocksdb/iterator.h>
#include <rocksdb/snapshot.h>

#include <limits>
#include <utility>

#include "store/rocksdb/database.h"
#include "store/rocksdb/keys.h"
#include "store/rocksdb/writer.h"

namespace chat::store {
namespace {

using rocks::Database;

Status check_limit(int limit) {
  if (limit < 1) return make_error(Errc::bad_request, "limit must be at least 1");
  return Ok{};
}

Error failure(const std::string& what, const rocksdb::Status& s) {
  return make_error(Errc::unavailable, "rocksdb: " + what + ": " + s.ToString());
}

// A consistent view for a read of several keys (the entries, then their bodies).
class Snapshot {
 public:
  explicit Snapshot(rocksdb::DB& db) : db_(db), snapshot_(db.GetSnapshot()) {}
  ~Snapshot() { db_.ReleaseSnapshot(snapshot_); }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB& db_;
  const rocksdb::Snapshot* snapshot_;
};

// Iterates the keys in [lower, upper).
std::unique_ptr<rocksdb::Iterator> range(rocksdb::DB& db, const rocksdb::Slice* upper,
                                         const rocksdb::Snapshot* snapshot = nullptr) {
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = upper;
  read.snapshot = snapshot;
  return std::unique_ptr<rocksdb::Iterator>(db.NewIterator(read));
}

// The entries (owner, seq, and the message's number in msg_id) completed with their messages.
Result<std::vector<InboxEntry>> with_bodies(rocksdb::DB& db, const rocksdb::Snapshot* snapshot,
                                            std::vector<InboxEntry> entries) {
  if (entries.empty()) return entries;
  std::vector<std::string> body_keys;
  body_keys.reserve(entries.size());
  for (const InboxEntry& entry : entries) {
    body_keys.push_back(rocks::keys::message(rocks::keys::number_of(entry.msg_id)));
  }
  std::vector<rocksdb::Slice> slices(body_keys.begin(), body_keys.end());
  std::vector<std::string> values;
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  std::vector<rocksdb::Status> statuses = db.MultiGet(read, slices, &values);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!statuses[i].ok()) return failure("reading a message of " + entries[i].owner, statuses[i]);
    std::optional<rocks::keys::MessageRecord> message = rocks::keys::decode_message(values[i]);
    if (!message)
      return make_error(Errc::internal, "rocksdb: a malformed message of " + entries[i].owner);
    entries[i].msg_id = std::move(message->msg_id);
    entries[i].from = std::move(message->from);
    entries[i].to = std::move(message->to);
    entries[i].body = std::move(message->body);
    entries[i].ts = message->ts;
  }
  return entries;
}

InboxEntry entry_ref(std::string_view owner, const rocksdb::Iterator& it) {
  InboxEntry entry;
  entry.owner = std::string(owner);
  entry.seq = rocks::keys::seq_of(it.key().ToStringView());
  entry.msg_id = it.value().ToString();
  return entry;
}

}  // namespace

Result<std::unique_ptr<RocksStore>> RocksStore::open(const std::string& path,
                                                     RocksOptions options) {
  Result<std::unique_ptr<Database>> db = Database::open(path, options);
  if (!db.ok()) return db.error();
  auto writer = std::make_unique<rocks::Writer>(**db, options);
  if (Status s = writer->load(); !s.ok()) return s.error();
  return std::unique_ptr<RocksStore>(new RocksStore(std::move(db).value(), std::move(writer)));
}

RocksStore::RocksStore(std::unique_ptr<Database> db, std::unique_ptr<rocks::Writer> writer)
    : db_(std::move(db)), writer_(std::move(writer)) {}

RocksStore::~RocksStore() {
  drain();
  writer_.reset();  // before the database it writes to
}

void RocksStore::drain() { writer_->drain(); }

uint64_t RocksStore::commits() const { return writer_->commits(); }

void RocksStore::create_user(std::string username, int64_t now_ms, Callback<User> done) {
  writer_->create_user(std::move(username), now_ms, std::move(done));
}

void RocksStore::delete_user(std::string username, Callback<Ok> done) {
  writer_->delete_user(std::move(username), std::move(done));
}

void RocksStore::touch_last_seen(std::string username, int64_t now_ms) {
  writer_->touch_last_seen(std::move(username), now_ms);
}

void RocksStore::append(SendRequest request, Callback<SendResult> done) {
  writer_->append(std::move(request), std::move(done));
}

Result<User> RocksStore::get_user(std::string_view username) {
  Result<Database::Reader> db = db_->read();
  if (!db.ok()) return db.error();
  std::string value;
  rocksdb::Status s = (*db)->Get(rocksdb::ReadOptions(), rocks::keys::user(username), &value);
  if (s.IsNotFound()) return make_error(Errc::not_found, "no such user: " + std::string(username));
  if (!s.ok()) return failure("reading user " + std::string(username), s);
  std::optional<rocks::keys::UserRecord> user = rocks::keys::decode_user(value);
  if (!user) return make_error(Errc::internal, "rocksdb: a malformed user record");
  return with_pending_last_seen(User{std::string(username), user->created_at, user->last_seen});
}

User RocksStore::with_pending_last_seen(User user) {
  if (std::optional<int64_t> pending = writer_->pending_last_seen(user.username)) {
    user.last_seen = std::max(user.last_seen.value_or(*pending), *pending);
  }
  return user;
}

Result<UserPage> RocksStore::list_users(std::string_view after, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Result<Database::Reader> db = db_->read();
  if (!db.ok()) return db.error();
  const std::string upper(1, rocks::keys::kUser + 1);
  rocksdb::Slice upper_slice(upper);
  std::unique_ptr<rocksdb::Iterator> it = range(**db, &upper_slice);
  UserPage page;
  // Past `after`: its own key followed by '\0' is the first key after it.
  std::string start = rocks::keys::user(after);
  if (!after.empty()) start.push_back('\0');
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (page.users.size() == static_cast<std::size_t>(limit)) {
      page.next = page.users.back().username;
      break;
    }
    std::optional<rocks::keys::UserRecord> user =
        rocks::keys::decode_user(it->value().ToStringView());
    if (!user) return make_error(Errc::internal, "rocksdb: a malformed user record");
    page.users.push_back(with_pending_last_seen(
        User{std::string(it->key().ToStringView().substr(1)), user->created_at, user->last_seen}));
  }
  if (!it->status().ok()) return failure("listing users", it->status());
  return page;
}

Result<std::vector<InboxEntry>> RocksStore::read_inbox(std::string_view owner, uint64_t after,
                                                       int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Result<Database::Reader> db = db_->read();
  if (!db.ok()) return db.error();
  if (after == std::numeric_limits<uint64_t>::max()) return std::vector<InboxEntry>{};
  const std::string upper =
      rocks::keys::prefix_end(rocks::keys::owner_prefix(rocks::keys::kEntry, owner));
  rocksdb::Slice upper_slice(upper);
  Snapshot snapshot(**db);
  std::unique_ptr<rocksdb::Iterator> it = range(**db, &upper_slice, snapshot.get());
  std::vector<InboxEntry> entries;
  for (it->Seek(rocks::keys::entry(owner, after + 1));
       it->Valid() && entries.size() < static_cast<std::size_t>(limit); it->Next()) {
    entries.push_back(entry_ref(owner, *it));
  }
  if (!it->status().ok())
    return failure("reading the inbox of " + std::string(owner), it->status());
  return with_bodies(**db, snapshot.get(), std::move(entries));
}

Result<std::vector<InboxEntry>> RocksStore::history(std::string_view owner, std::string_view peer,
                                                    uint64_t before, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Result<Database::Reader> db = db_->read();
  if (!db.ok()) return db.error();
  const std::string lower = rocks::keys::peer_entry(owner, peer, 0);
  // Entries with seq < before: the keys below (owner, peer, before).
  const std::string upper = before == 0 ? rocks::keys::prefix_end(lower.substr(0, lower.size() - 8))
                                        : rocks::keys::peer_entry(owner, peer, before);
  rocksdb::Slice upper_slice(upper);
  Snapshot snapshot(**db);
  std::unique_ptr<rocksdb::Iterator> it = range(**db, &upper_slice, snapshot.get());
  std::vector<InboxEntry> entries;
  for (it->SeekToLast(); it->Valid() && it->key().compare(lower) >= 0 &&
                         entries.size() < static_cast<std::size_t>(limit);
       it->Prev()) {
    entries.push_back(entry_ref(owner, *it));
  }
  if (!it->status().ok()) return failure("reading history of " + std::string(owner), it->status());
  return with_bodies(**db, snapshot.get(), std::move(entries));
}

Result<std::vector<Conversation>> RocksStore::conversations(std::string_view owner, uint64_t before,
                                                            int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Result<Database::Reader> db = db_->read();
  if (!db.ok()) return db.error();
  // p<owner>\0<peer>\0<seq>: from the first key of a peer, the last key before "<peer>\1" is its
  // latest entry, and a seek to "<peer>\1" lands on the next peer's first key.
  const std::string prefix = rocks::keys::owner_prefix(rocks::keys::kPeerEntry, owner);
  const std::string upper = rocks::keys::prefix_end(prefix);
  rocksdb::Slice upper_slice(upper);
  Snapshot snapshot(**db);
  std::unique_ptr<rocksdb::Iterator> it = range(**db, &upper_slice, snapshot.get());
  std::vector<Conversation> latest;
  std::vector<InboxEntry> entries;
  for (it->Seek(prefix); it->Valid();) {
    const std::string_view key = it->key().ToStringView();
    std::string peer(key.substr(prefix.size(), key.size() - prefix.size() - 9));
    const std::string past_peer = rocks::keys::prefix_end(prefix + peer + '\0');
    it->SeekForPrev(past_peer);
    if (!it->Valid()) break;
    latest.push_back({std::move(peer), entry_ref(owner, *it)});
    it->Seek(past_peer);
  }
  if (!it->status().ok()) {
    return failure("reading the conversations of " + std::string(owner), it->status());
  }
  latest = newest_first(std::move(latest), before, limit);
  entries.reserve(latest.size());
  for (Conversation& c : latest) entries.push_back(std::move(c.last));
  Result<std::vector<InboxEntry>> full = with_bodies(**db, snapshot.get(), std::move(entries));
  if (!full.ok()) return full.error();
  for (std::size_t i = 0; i < latest.size(); ++i) latest[i].last = std::move((*full)[i]);
  return latest;
}

Result<uint64_t> RocksStore::last_seq(std::string_view owner) {
  Result<Database::Reader> db = db_->read();
  if (!db.ok()) return db.error();
  const std::string lower = rocks::keys::owner_prefix(rocks::keys::kEntry, owner);
  const std::string upper = rocks::keys::prefix_end(lower);
  rocksdb::Slice upper_slice(upper);
  std::unique_ptr<rocksdb::Iterator> it = range(**db, &upper_slice);
  it->SeekToLast();
  if (!it->status().ok()) return failure("reading the head of " + std::string(owner), it->status());
  if (!it->Valid() || !it->key().starts_with(lower)) return uint64_t{0};
  return rocks::keys::seq_of(it->key().ToStringView());
}

}  // namespace chat::store
