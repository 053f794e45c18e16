#include "store/sqlite/writer.h"

#include <pthread.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "base/log.h"

namespace chat::store::sqlite {
namespace {

// Storage failures spoil the transaction; anything else is the job's own answer.
bool aborts_batch(const Error& error) {
  return error.code == Errc::unavailable || error.code == Errc::internal;
}

template <typename T>
const Error* error_of(const std::optional<Result<T>>& result) {
  return result.has_value() && !result->ok() ? &result->error() : nullptr;
}

Error shut_down() { return make_error(Errc::unavailable, "sqlite store: shut down"); }

}  // namespace

Writer::Writer(std::unique_ptr<Connection> db, std::size_t max_batch)
    : db_(std::move(db)),
      queue_(
          max_batch, "chat-writer", [this](std::vector<Job>& batch) { run_batch(batch); },
          [](Job& job) { fail_job(job, shut_down()); }) {}

Writer::~Writer() { drain(); }

void Writer::append(SendRequest request, Callback<SendResult> done) {
  submit(AppendJob{std::move(request), std::move(done), std::nullopt});
}

void Writer::create_user(std::string username, int64_t now_ms, Callback<User> done) {
  submit(CreateUserJob{std::move(username), now_ms, std::move(done), std::nullopt});
}

void Writer::delete_user(std::string username, Callback<Ok> done) {
  submit(DeleteUserJob{std::move(username), std::move(done), std::nullopt});
}

void Writer::touch_last_seen(std::string username, int64_t now_ms) {
  submit(TouchJob{std::move(username), now_ms, std::nullopt});
}

void Writer::drain() { queue_.drain(); }

void Writer::submit(Job job) { queue_.submit(std::move(job)); }

void Writer::run_batch(std::vector<Job>& batch) {
  Status status = db_->run("BEGIN IMMEDIATE");
  for (auto it = batch.begin(); status.ok() && it != batch.end(); ++it) {
    status = std::visit([this](auto& job) { return apply_in_savepoint(job); }, *it);
  }
  if (status.ok()) status = db_->run("COMMIT");

  if (!status.ok()) {
    // SQLite rolls back by itself after some errors; after others (a busy COMMIT) it does not.
    if (db_->in_transaction()) (void)db_->run("ROLLBACK");
    log::warn("sqlite store: a batch of ", batch.size(),
              " writes was rolled back: ", status.error().message);
    const Error failed = make_error(Errc::unavailable, status.error().message);
    for (Job& job : batch) fail_job(job, failed);
    return;
  }

  commits_.fetch_add(1);
  for (Job& job : batch) answer_job(job);
}

template <typename J>
Status Writer::apply_in_savepoint(J& job) {
  if (Status s = db_->run("SAVEPOINT job"); !s.ok()) return s;
  job.result = apply(job);
  if (const Error* error = error_of(job.result)) {
    if (aborts_batch(*error)) return *error;
    if (Status s = db_->run("ROLLBACK TO job"); !s.ok()) return s;
  }
  return db_->run("RELEASE job");
}

Result<SendResult> Writer::apply(const AppendJob& job) {
  const SendRequest& request = job.request;
  {
    Result<Statement> sent =
        db_->prepare("SELECT msg_id, seq, ts FROM sends WHERE sender = ?1 AND client_id = ?2");
    if (!sent.ok()) return sent.error();
    sent->bind(1, request.from).bind(2, request.client_id);
    Result<bool> row = sent->step();
    if (!row.ok()) return row.error();
    if (*row) {
      // A retry: answer as the first time, store nothing.
      SendResult original;
      original.duplicate = true;
      original.msg_id = sent->text(0);
      original.sender_seq = static_cast<uint64_t>(sent->int64(1));
      original.ts = sent->int64(2);
      return original;
    }
  }

  Result<bool> sender_exists = user_exists(request.from);
  if (!sender_exists.ok()) return sender_exists.error();
  if (!*sender_exists) return make_error(Errc::forbidden, "no such sender: " + request.from);
  Result<bool> recipient_exists = user_exists(request.to);
  if (!recipient_exists.ok()) return recipient_exists.error();
  if (!*recipient_exists) {
    return make_error(Errc::unknown_recipient, "no such user: " + request.to);
  }

  SendResult result;
  result.msg_id = request.msg_id;
  result.ts = request.ts;
  Result<InboxEntry> recipient_entry = insert_entry(request, request.to, request.from);
  if (!recipient_entry.ok()) return recipient_entry.error();
  result.entries.push_back(std::move(recipient_entry).value());
  if (request.from != request.to) {
    Result<InboxEntry> sender_entry = insert_entry(request, request.from, request.to);
    if (!sender_entry.ok()) return sender_entry.error();
    result.entries.push_back(std::move(sender_entry).value());
  }
  result.sender_seq = result.entries.back().seq;

  Result<Statement> key = db_->prepare(
      "INSERT INTO sends (sender, client_id, msg_id, seq, ts) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!key.ok()) return key.error();
  key->bind(1, request.from)
      .bind(2, request.client_id)
      .bind(3, request.msg_id)
      .bind(4, static_cast<int64_t>(result.sender_seq))
      .bind(5, request.ts);
  if (Status s = key->run(); !s.ok()) return s.error();
  return result;
}

Result<bool> Writer::user_exists(const std::string& username) {
  Result<Statement> statement = db_->prepare("SELECT 1 FROM users WHERE username = ?1");
  if (!statement.ok()) return statement.error();
  statement->bind(1, username);
  return statement->step();
}

Result<InboxEntry> Writer::insert_entry(const SendRequest& request, const std::string& owner,
                                        const std::string& peer) {
  InboxEntry entry{owner, 0, request.msg_id, request.from, request.to, request.body, request.ts};
  {
    // Consistent because this thread is the only writer; a max() on the primary key is one seek.
    Result<Statement> head =
        db_->prepare("SELECT coalesce(max(seq), 0) + 1 FROM inbox WHERE owner = ?1");
    if (!head.ok()) return head.error();
    head->bind(1, owner);
    Result<bool> row = head->step();
    if (!row.ok()) return row.error();
    entry.seq = static_cast<uint64_t>(head->int64(0));
  }
  Result<Statement> insert = db_->prepare(
      "INSERT INTO inbox (owner, seq, msg_id, sender, recipient, peer, body, ts)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert.ok()) return insert.error();
  insert->bind(1, entry.owner)
      .bind(2, static_cast<int64_t>(entry.seq))
      .bind(3, entry.msg_id)
      .bind(4, entry.from)
      .bind(5, entry.to)
      .bind(6, peer)
      .bind(7, entry.body)
      .bind(8, entry.ts);
  if (Status s = insert->run(); !s.ok()) return s.error();
  return entry;
}

Result<User> Writer::apply(const CreateUserJob& job) {
  Result<Statement> insert = db_->prepare(
      "INSERT INTO users (username, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
  if (!insert.ok()) return insert.error();
  insert->bind(1, job.username).bind(2, job.now_ms);
  if (Status s = insert->run(); !s.ok()) return s.error();
  if (db_->changes() == 0) return make_error(Errc::conflict, "user exists: " + job.username);
  return User{job.username, job.now_ms, std::nullopt};
}

Status Writer::apply(const DeleteUserJob& job) {
  // The foreign keys cascade to the user's inbox and idempotency keys.
  Result<Statement> remove = db_->prepare("DELETE FROM users WHERE username = ?1");
  if (!remove.ok()) return remove.error();
  remove->bind(1, job.username);
  if (Status s = remove->run(); !s.ok()) return s;
  if (db_->changes() == 0) return make_error(Errc::not_found, "no such user: " + job.username);
  return Ok{};
}

Status Writer::apply(const TouchJob& job) {
  // A missing user is not an error: they may have been deleted while connected.
  Result<Statement> update = db_->prepare("UPDATE users SET last_seen = ?2 WHERE username = ?1");
  if (!update.ok()) return update.error();
  update->bind(1, job.username).bind(2, job.now_ms);
  return update->run();
}

}  // namespace chat::store::sqlite
