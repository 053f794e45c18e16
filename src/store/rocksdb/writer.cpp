#include "store/rocksdb/writer.h"

#include <rocksdb/iterator.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "base/log.h"
#include "store/rocksdb/keys.h"

namespace chat::store::rocks {
namespace {

Error shut_down() { return make_error(Errc::unavailable, "rocksdb store: shut down"); }

Error failure(const std::string& what, const rocksdb::Status& s) {
  return make_error(Errc::unavailable, "rocksdb: " + what + ": " + s.ToString());
}

std::string u64(uint64_t value) {
  std::string out;
  keys::put_u64(out, value);
  return out;
}

}  // namespace

Writer::Writer(Database& db, const RocksOptions& options)
    : db_(db),
      send_key_cache_(options.send_key_cache),
      queue_(
          options.max_batch, "chat-writer", [this](std::vector<Job>& batch) { run_batch(batch); },
          [](Job& job) { fail_job(job, shut_down()); }, kTouchInterval) {}

Writer::~Writer() { drain(); }

void Writer::append(SendRequest request, Callback<SendResult> done) {
  queue_.submit(AppendJob{std::move(request), std::move(done), std::nullopt});
}

void Writer::create_user(std::string username, int64_t now_ms, Callback<User> done) {
  queue_.submit(CreateUserJob{std::move(username), now_ms, std::move(done), std::nullopt});
}

void Writer::delete_user(std::string username, Callback<Ok> done) {
  queue_.submit(DeleteUserJob{std::move(username), std::move(done), std::nullopt});
}

void Writer::touch_last_seen(std::string username, int64_t now_ms) {
  std::lock_guard lock(touches_mu_);
  int64_t& last_seen = touches_[std::move(username)];
  last_seen = std::max(last_seen, now_ms);
}

std::optional<int64_t> Writer::pending_last_seen(const std::string& username) {
  std::lock_guard lock(touches_mu_);
  auto it = touches_.find(username);
  if (it == touches_.end()) return std::nullopt;
  return it->second;
}

void Writer::drain() {
  queue_.drain();
  std::call_once(last_touches_, [this] {
    // The writer thread has stopped: write all that is still pending from here.
    std::vector<Job> none;
    while (write_batch(none, true)) {
    }
  });
}

Status Writer::load() {
  users_.clear();
  heads_.clear();
  sent_.clear();
  sent_order_.clear();
  rocksdb::DB* db = db_.db();
  const std::string lower(1, keys::kUser);
  const std::string upper(1, keys::kUser + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    std::optional<keys::UserRecord> user = keys::decode_user(it->value().ToStringView());
    if (!user) return make_error(Errc::internal, "rocksdb: a malformed user record");
    users_.emplace(std::string(it->key().ToStringView().substr(1)),
                   UserState{user->created_at, user->last_seen, next_generation_++});
  }
  if (!it->status().ok()) return failure("loading the users", it->status());

  const std::string messages_end(1, keys::kMessage + 1);
  rocksdb::Slice messages_end_slice(messages_end);
  read.iterate_upper_bound = &messages_end_slice;
  it.reset(db->NewIterator(read));
  it->SeekToLast();
  if (!it->status().ok()) return failure("finding the last message", it->status());
  next_message_ = 1;
  if (it->Valid() && it->key().size() == 9 && it->key()[0] == keys::kMessage) {
    next_message_ = keys::number_of(it->key().ToStringView()) + 1;
  }
  return Ok{};
}

void Writer::run_batch(std::vector<Job>& batch) {
  // The jobs with a first share of the last_seen times due, then the rest of those a share per
  // commit, so that what a batch holds in memory does not grow with the users who came and went.
  const bool touches_due = std::chrono::steady_clock::now() >= next_touches_;
  bool more = write_batch(batch, touches_due);
  std::vector<Job> none;
  for (int share = 1; more && share < kTouchSharesPerRun; ++share) more = write_batch(none, true);
}

bool Writer::write_batch(std::vector<Job>& batch, bool with_touches) {
  Touches touches;
  if (with_touches) {
    std::lock_guard lock(touches_mu_);
    for (auto it = touches_.begin(); it != touches_.end() && touches.size() < kTouchesPerCommit;
         ++it) {
      touches.insert(*it);
    }
  }
  if (batch.empty() && (touches.empty() || needs_reopen_)) return false;  // a job will reopen
  if (needs_reopen_) {
    // The previous commit failed and RocksDB stopped writing. Reopening (rather than Resume(),
    // which refuses after a failed WAL sync) also drops that commit's unsynced bytes.
    Status s = db_.open_again();
    if (s.ok()) s = load();
    if (!s.ok()) {
      log::warn("rocksdb store: still cannot reopen the database: ", s.error().message);
      for (Job& job : batch) fail_job(job, s.error());
      return false;
    }
    log::info("rocksdb store: the database is open again");
    needs_reopen_ = false;
  }

  batch_.Clear();
  puts_.clear();
  overlay_ = Overlay{};
  batch_next_message_ = next_message_;
  for (Job& job : batch) {
    std::visit([this](auto& j) { j.result = apply(j); }, job);
  }
  apply_touches(touches);
  flush_puts();

  if (batch_.Count() > 0) {
    rocksdb::Status s = db_.db()->Write(durable_writes(), &batch_);
    if (!s.ok()) {
      log::warn("rocksdb store: a batch of ", batch.size(), " writes failed: ", s.ToString());
      needs_reopen_ = true;
      const Error failed = failure("commit", s);
      for (Job& job : batch) fail_job(job, failed);
      return false;
    }
    commits_.fetch_add(1);
  }
  next_message_ = batch_next_message_;
  commit(overlay_);
  const bool more = touches.size() == kTouchesPerCommit;
  if (!touches.empty()) {
    forget_touches(touches);
    if (!more) next_touches_ = std::chrono::steady_clock::now() + kTouchInterval;
  }
  for (Job& job : batch) answer_job(job);
  return more;
}

void Writer::commit(Overlay& overlay) {
  for (auto& [name, user] : overlay.users) {
    if (user) {
      users_[name] = *user;
    } else {
      users_.erase(name);
    }
  }
  for (auto& [owner, seq] : overlay.heads) {
    if (users_.contains(owner)) {
      heads_[owner] = seq;
    } else {
      heads_.erase(owner);
    }
  }
  for (auto& [key, sent] : overlay.sent) remember(key, std::move(sent));
}

void Writer::remember(std::string key, SentState sent) {
  if (send_key_cache_ == 0) return;
  auto [it, inserted] = sent_.insert_or_assign(key, std::move(sent));
  if (inserted) sent_order_.push_back(std::move(key));
  while (sent_order_.size() > send_key_cache_) {
    sent_.erase(sent_order_.front());
    sent_order_.pop_front();
  }
}

void Writer::put(std::string key, std::string value) {
  puts_.emplace_back(std::move(key), std::move(value));
}

void Writer::flush_puts() {
  std::stable_sort(puts_.begin(), puts_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, value] : puts_) (void)batch_.Put(key, value);
  puts_.clear();
}

// Appends the keys of one inbox copy of a message: the entry and the history index. (No per-peer
// summary for the conversation list: see docs/architecture.md §5 for why, and how the conversation
// list reads it instead.)
void Writer::put_entry(const std::string& owner, const std::string& peer, uint64_t seq,
                       const std::string& number) {
  put(keys::entry(owner, seq), number);
  put(keys::peer_entry(owner, peer, seq), number);
}

const Writer::UserState* Writer::find_user(const std::string& name) const {
  if (auto it = overlay_.users.find(name); it != overlay_.users.end()) {
    return it->second ? &*it->second : nullptr;
  }
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

Result<uint64_t> Writer::head(const std::string& owner) {
  if (auto it = overlay_.heads.find(owner); it != overlay_.heads.end()) return it->second;
  if (auto it = heads_.find(owner); it != heads_.end()) return it->second;
  // First use since start-up: the last entry on disk (committed, so it can go to heads_ now).
  const std::string lower = keys::owner_prefix(keys::kEntry, owner);
  const std::string upper = keys::prefix_end(lower);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(read));
  it->SeekToLast();
  uint64_t seq = 0;
  if (it->Valid() && it->key().starts_with(lower)) seq = keys::seq_of(it->key().ToStringView());
  if (!it->status().ok()) return failure("reading the head of " + owner, it->status());
  heads_[owner] = seq;
  return seq;
}

Result<std::optional<Writer::SentState>> Writer::find_sent(const std::string& key,
                                                           const std::string& from,
                                                           const UserState& sender) {
  if (auto it = overlay_.sent.find(key); it != overlay_.sent.end()) return {it->second};
  if (auto it = sent_.find(key); it != sent_.end() && it->second.generation == sender.generation) {
    return {it->second};
  }
  if (overlay_.fresh.contains(from))
    return {std::nullopt};  // their keys on disk are a
                            // predecessor's, deleted in this batch
  std::string value;
  rocksdb::Status s = db_.db()->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return {std::nullopt};
  if (!s.ok()) return failure("reading an idempotency key", s);
  std::optional<keys::SendKeyRecord> record = keys::decode_send_key(value);
  if (!record) return make_error(Errc::internal, "rocksdb: a malformed idempotency key");
  SentState sent{record->sender_seq, record->ts, std::move(record->msg_id), sender.generation};
  remember(key, sent);  // committed already
  return {std::move(sent)};
}

Result<SendResult> Writer::apply(const AppendJob& job) {
  const SendRequest& request = job.request;
  const UserState* sender = find_user(request.from);
  if (sender == nullptr) return make_error(Errc::forbidden, "no such sender: " + request.from);

  std::string key = keys::send_key(request.from, request.client_id);
  Result<std::optional<SentState>> sent = find_sent(key, request.from, *sender);
  if (!sent.ok()) return sent.error();
  if (sent->has_value()) {
    // A retry: answer as the first time, store nothing.
    SendResult original;
    original.duplicate = true;
    original.msg_id = (*sent)->msg_id;
    original.sender_seq = (*sent)->sender_seq;
    original.ts = (*sent)->ts;
    return original;
  }
  const uint64_t generation = sender->generation;
  if (find_user(request.to) == nullptr) {
    return make_error(Errc::unknown_recipient, "no such user: " + request.to);
  }

  Result<uint64_t> to_head = head(request.to);
  if (!to_head.ok()) return to_head.error();
  Result<uint64_t> from_head = request.from == request.to ? to_head : head(request.from);
  if (!from_head.ok()) return from_head.error();

  const uint64_t number = batch_next_message_++;
  const std::string number_value = u64(number);
  std::string body;
  keys::encode_message(body, request.ts, request.msg_id, request.from, request.to, request.body);
  put(keys::message(number), std::move(body));

  SendResult result;
  result.msg_id = request.msg_id;
  result.ts = request.ts;
  const auto entry = [&request](const std::string& owner, uint64_t seq) {
    return InboxEntry{owner,      seq,          request.msg_id, request.from,
                      request.to, request.body, request.ts};
  };
  const uint64_t to_seq = *to_head + 1;
  put_entry(request.to, request.from, to_seq, number_value);
  overlay_.heads[request.to] = to_seq;
  result.entries.push_back(entry(request.to, to_seq));
  if (request.from != request.to) {
    const uint64_t from_seq = *from_head + 1;
    put_entry(request.from, request.to, from_seq, number_value);
    overlay_.heads[request.from] = from_seq;
    result.entries.push_back(entry(request.from, from_seq));
  }
  result.sender_seq = result.entries.back().seq;

  put(key, keys::encode(keys::SendKeyRecord{result.sender_seq, request.ts, request.msg_id}));
  overlay_.sent.insert_or_assign(
      std::move(key), SentState{result.sender_seq, request.ts, request.msg_id, generation});
  return result;
}

Result<User> Writer::apply(const CreateUserJob& job) {
  if (find_user(job.username) != nullptr) {
    return make_error(Errc::conflict, "user exists: " + job.username);
  }
  put(keys::user(job.username), keys::encode(keys::UserRecord{job.now_ms, {}}));
  overlay_.users[job.username] = UserState{job.now_ms, std::nullopt, next_generation_++};
  overlay_.fresh.insert(job.username);
  overlay_.heads[job.username] = 0;
  return User{job.username, job.now_ms, std::nullopt};
}

Status Writer::apply(const DeleteUserJob& job) {
  if (find_user(job.username) == nullptr) {
    return make_error(Errc::not_found, "no such user: " + job.username);
  }
  flush_puts();  // the puts before the delete must stay before it
  if (!overlay_.fresh.contains(job.username)) {
    if (Status s = forget_messages_of(job.username); !s.ok()) return s;
  }
  for (const char table : {keys::kEntry, keys::kPeerEntry, keys::kSendKey}) {
    const std::string prefix = keys::owner_prefix(table, job.username);
    (void)batch_.DeleteRange(prefix, keys::prefix_end(prefix));
  }
  (void)batch_.Delete(keys::user(job.username));
  overlay_.users[job.username] = std::nullopt;
  overlay_.fresh.erase(job.username);
  overlay_.heads[job.username] = 0;
  return Ok{};
}

// Deletes the bodies of the user's messages that no one else holds: notes to self, and messages
// whose other party is gone too. (A body whose other party was deleted and re-created stays.)
Status Writer::forget_messages_of(const std::string& name) {
  const std::string lower = keys::owner_prefix(keys::kEntry, name);
  const std::string upper = keys::prefix_end(lower);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(read));
  std::string value;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    const std::string body_key = keys::message(keys::number_of(it->value().ToStringView()));
    rocksdb::Status s = db_.db()->Get(rocksdb::ReadOptions(), body_key, &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return failure("reading a message of " + name, s);
    std::optional<keys::MessageRecord> message = keys::decode_message(value);
    if (!message) continue;
    const std::string& other = message->from == name ? message->to : message->from;
    if (other == name || find_user(other) == nullptr) (void)batch_.Delete(body_key);
  }
  if (!it->status().ok()) return failure("reading the inbox of " + name, it->status());
  return Ok{};
}

void Writer::apply_touches(const Touches& touches) {
  for (const auto& [username, now_ms] : touches) {
    // A missing user is not an error: they may have been deleted while connected.
    const UserState* user = find_user(username);
    if (user == nullptr) continue;
    UserState touched = *user;
    touched.last_seen = now_ms;
    put(keys::user(username),
        keys::encode(keys::UserRecord{touched.created_at, touched.last_seen}));
    overlay_.users[username] = touched;
  }
}

void Writer::forget_touches(const Touches& written) {
  std::lock_guard lock(touches_mu_);
  for (const auto& [username, now_ms] : written) {
    // Unless a newer touch came meanwhile, which the next write takes.
    if (auto it = touches_.find(username); it != touches_.end() && it->second == now_ms) {
      touches_.erase(it);
    }
  }
}

}  // namespace chat::store::rocks
