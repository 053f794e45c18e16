#include "store/postgres/writer.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/log.h"
#include "base/overloaded.h"
#include "store/presence.h"

namespace chat::store::postgres {
namespace {

// Reruns of a transaction that lost a deadlock or a serialization conflict, and the first pause.
constexpr int kMaxAttempts = 5;
constexpr std::chrono::milliseconds kFirstBackoff{2};

// --- round one of an append transaction: lock, then read (READ COMMITTED: every statement after
// the lock sees what other instances committed before we got it).

// One canonical order (by owner) for every writer of every instance: no deadlocks between batches.
constexpr std::string_view kLockHeads =
    "SELECT owner, last_seq FROM heads WHERE owner = ANY($1::text[]) ORDER BY owner FOR UPDATE";
constexpr std::string_view kReadKeys =
    "SELECT s.sender, s.client_id, s.msg_id, s.seq, s.ts FROM sends s"
    " JOIN unnest($1::text[], $2::text[]) AS k (sender, client_id)"
    " ON s.sender = k.sender AND s.client_id = k.client_id";
constexpr std::string_view kReadRoutes =
    "SELECT p.username, p.node_id FROM presence p JOIN nodes n ON n.node_id = p.node_id"
    " WHERE p.username = ANY($1::text[])"
    " AND n.heartbeat_at > now() - $2::bigint * interval '1 millisecond'"
    " ORDER BY p.username, p.node_id";

// --- round two: one statement per table for the whole batch.
constexpr std::string_view kInsertEntries =
    "INSERT INTO inbox (owner, seq, msg_id, sender, recipient, peer, body, ts)"
    " SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::text[], $8::bigint[])";
constexpr std::string_view kAdvanceHeads =
    "UPDATE heads SET last_seq = v.last_seq FROM unnest($1::text[], $2::bigint[])"
    " AS v (owner, last_seq) WHERE heads.owner = v.owner";
constexpr std::string_view kRecordKeys =
    "INSERT INTO sends (sender, client_id, msg_id, seq, ts)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])";

// --- best-effort writes, after the COMMIT. A user deleted meanwhile is simply not matched.
constexpr std::string_view kTouch =
    "UPDATE users SET last_seen = v.last_seen FROM unnest($1::text[], $2::bigint[])"
    " AS v (username, last_seen) WHERE users.username = v.username";
// Rows that drop to zero go first, so the decrement never breaks CHECK (connections > 0).
constexpr std::string_view kDetachLast =
    "DELETE FROM presence p USING unnest($1::text[], $2::text[], $3::integer[])"
    " AS d (username, node_id, n)"
    " WHERE p.username = d.username AND p.node_id = d.node_id AND p.connections <= d.n";
constexpr std::string_view kDetachSome =
    "UPDATE presence p SET connections = p.connections - d.n"
    " FROM unnest($1::text[], $2::text[], $3::integer[]) AS d (username, node_id, n)"
    " WHERE p.username = d.username AND p.node_id = d.node_id";

// --- user operations: none fails for a logical reason; the rows returned tell the outcome.
// The heads row is the user's inbox head (and lock): created with the user.
constexpr std::string_view kCreateUser =
    "WITH created AS (INSERT INTO users (username, created_at) VALUES ($1, $2::bigint)"
    " ON CONFLICT DO NOTHING RETURNING username)"
    " INSERT INTO heads (owner, last_seq) SELECT username, 0 FROM created RETURNING owner";
// Cascades to heads, and from there to the inbox, the idempotency keys and presence.
constexpr std::string_view kDeleteUser = "DELETE FROM users WHERE username = $1 RETURNING username";

Error shut_down() { return make_error(Errc::unavailable, "postgres store: shut down"); }

// The writer answers every storage failure with unavailable: the caller may resend.
Error unavailable(const Error& error) { return make_error(Errc::unavailable, error.message); }

bool storable(const SendRequest& request) {
  return postgres::storable(request.from) && postgres::storable(request.to) &&
         postgres::storable(request.client_id) && postgres::storable(request.msg_id) &&
         postgres::storable(request.body);
}

Error not_storable(std::string_view what) {
  return make_error(Errc::bad_request, "postgres: " + std::string(what) +
                                           " is not valid UTF-8 or contains a NUL byte");
}

void backoff(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  const auto base = kFirstBackoff * (1 << (attempt - 1));
  std::uniform_int_distribution<int64_t> jitter(0, base.count() * 1000);
  std::this_thread::sleep_for(base + std::chrono::microseconds(jitter(random)));
}

// What an append writes, column by column: the arrays that round two unnests.
struct Columns {
  // inbox
  std::vector<std::string> owner, msg_id, sender, recipient, peer, body;
  std::vector<int64_t> seq, ts;
  // sends
  std::vector<std::string> key_sender, key_client_id, key_msg_id;
  std::vector<int64_t> key_seq, key_ts;

  void add_entry(const InboxEntry& entry, const std::string& peer_of_owner) {
    owner.push_back(entry.owner);
    seq.push_back(static_cast<int64_t>(entry.seq));
    msg_id.push_back(entry.msg_id);
    sender.push_back(entry.from);
    recipient.push_back(entry.to);
    peer.push_back(peer_of_owner);
    body.push_back(entry.body);
    ts.push_back(entry.ts);
  }
};

struct Original {
  std::string msg_id;
  uint64_t seq;
  int64_t ts;
};

}  // namespace

Writer::Writer(std::shared_ptr<Connector> connector, std::unique_ptr<Connection> connection,
               std::size_t max_batch)
    : connector_(std::move(connector)),
      db_(std::move(connection)),
      queue_(
          max_batch, "chat-pg-writer", [this](std::vector<Job>& batch) { run_batch(batch); },
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
  submit(TouchJob{std::move(username), now_ms});
}

void Writer::detach(std::string user, std::string node) {
  submit(DetachJob{std::move(user), std::move(node)});
}

void Writer::drain() { queue_.drain(); }

void Writer::submit(Job job) { queue_.submit(std::move(job)); }

void Writer::run_batch(std::span<Job> batch) {
  // Split into runs of user operations and runs of everything else, applied in queue order, each
  // run's callbacks before the next run starts. User operations are rare (registrations and
  // deletions), so appends still share their transactions.
  const auto is_user_op = [](const Job& job) {
    return std::holds_alternative<CreateUserJob>(job) || std::holds_alternative<DeleteUserJob>(job);
  };
  auto begin = batch.begin();
  while (begin != batch.end()) {
    const bool user_ops = is_user_op(*begin);
    auto end = std::find_if(begin, batch.end(),
                            [&](const Job& job) { return is_user_op(job) != user_ops; });
    const std::span<Job> run(begin, end);
    if (user_ops) {
      run_user_ops(run);
    } else {
      run_appends(run);
    }
    for (Job& job : run) answer_job(job);
    begin = end;
  }
}

Status Writer::connect() {
  if (db_ && db_->alive()) return Ok{};
  db_.reset();
  Result<std::unique_ptr<Connection>> connection = connector_->connect();
  if (!connection.ok()) return connection.error();
  db_ = std::move(connection).value();
  return Ok{};
}

Writer::Attempt Writer::abandon(const Error& error) {
  Attempt attempt{.status = error, .retry = retryable(db_->sqlstate())};
  if (!db_->broken() && db_->in_transaction()) {
    Statement rollback[] = {{.sql = "ROLLBACK"}};
    (void)db_->round_trip("rollback", rollback);
  }
  if (db_->broken()) {
    if (db_->timed_out()) connector_->unreachable(error);
    db_.reset();
  }
  return attempt;
}

// --- appends

void Writer::run_appends(std::span<Job> jobs) {
  std::vector<AppendJob*> appends;
  std::vector<const TouchJob*> touches;
  std::vector<const DetachJob*> detaches;
  for (Job& job : jobs) {
    std::visit(Overloaded{
                   [&](AppendJob& j) {
                     if (storable(j.request)) {
                       appends.push_back(&j);
                     } else {
                       j.result = not_storable("a message");
                     }
                   },
                   [&](TouchJob& j) {
                     if (postgres::storable(j.username)) touches.push_back(&j);
                   },
                   [&](DetachJob& j) {
                     if (postgres::storable(j.user) && postgres::storable(j.node)) {
                       detaches.push_back(&j);
                     }
                   },
                   [](auto&) {},
               },
               job);
  }
  if (appends.empty() && touches.empty() && detaches.empty()) return;

  Attempt attempt;
  for (int n = 1;; ++n) {
    attempt = try_appends(appends, touches, detaches);
    if (attempt.status.ok() || !attempt.retry || n == kMaxAttempts) break;
    log::info("postgres store: running a batch of ", appends.size(), " appends again (",
              attempt.status.error().message, ")");
    backoff(n);
  }
  if (attempt.status.ok()) return;
  log::warn("postgres store: a batch of ", appends.size(),
            " appends was not committed: ", attempt.status.error().message);
  const Error failed = unavailable(attempt.status.error());
  for (AppendJob* job : appends) job->result = failed;
}

Writer::Attempt Writer::try_appends(std::span<AppendJob*> appends,
                                    std::span<const TouchJob*> touches,
                                    std::span<const DetachJob*> detaches) {
  if (Status s = connect(); !s.ok()) return {.status = s.error()};

  // Round one: lock the heads of every owner, then read the keys and the routes.
  std::vector<std::string> owners;
  std::vector<std::string> key_senders;
  std::vector<std::string> key_ids;
  {
    std::set<std::string> owner_set;
    std::set<std::pair<std::string, std::string>> key_set;
    for (const AppendJob* job : appends) {
      owner_set.insert(job->request.from);
      owner_set.insert(job->request.to);
      key_set.emplace(job->request.from, job->request.client_id);
    }
    owners.assign(owner_set.begin(), owner_set.end());
    for (const auto& [sender, client_id] : key_set) {
      key_senders.push_back(sender);
      key_ids.push_back(client_id);
    }
  }
  std::unordered_map<std::string, uint64_t> heads;
  std::map<std::pair<std::string, std::string>, Original> originals;
  std::unordered_map<std::string, std::vector<std::string>> routes;
  if (!appends.empty()) {
    Statement round_one[] = {
        {.sql = "BEGIN"},
        {.sql = kLockHeads, .params = Params().text_array(owners)},
        {.sql = kReadKeys, .params = Params().text_array(key_senders).text_array(key_ids)},
        {.sql = kReadRoutes, .params = Params().text_array(owners).int64(kNodeLiveness.count())},
    };
    Result<std::vector<Rows>> read = db_->round_trip("append", round_one);
    if (!read.ok()) return abandon(read.error());
    const Rows& locked = (*read)[1];
    for (int r = 0; r < locked.size(); ++r) {
      heads.emplace(locked.text(r, 0), static_cast<uint64_t>(locked.int64(r, 1)));
    }
    const Rows& keys = (*read)[2];
    for (int r = 0; r < keys.size(); ++r) {
      originals.emplace(
          std::pair(keys.text(r, 0), keys.text(r, 1)),
          Original{keys.text(r, 2), static_cast<uint64_t>(keys.int64(r, 3)), keys.int64(r, 4)});
    }
    const Rows& present = (*read)[3];
    for (int r = 0; r < present.size(); ++r) {
      routes[present.text(r, 0)].push_back(present.text(r, 1));
    }
  }

  // Every outcome, decided here in queue order, one job at a time.
  std::vector<Result<SendResult>> results;
  results.reserve(appends.size());
  Columns columns;
  std::set<std::string> advanced;
  for (const AppendJob* job : appends) {
    const SendRequest& request = job->request;
    auto key = std::pair(request.from, request.client_id);
    if (auto it = originals.find(key); it != originals.end()) {
      // A retry (of an earlier send, or of one earlier in this batch): answer as the first time.
      SendResult original;
      original.duplicate = true;
      original.msg_id = it->second.msg_id;
      original.sender_seq = it->second.seq;
      original.ts = it->second.ts;
      results.emplace_back(std::move(original));
      continue;
    }
    if (!heads.contains(request.from)) {
      results.emplace_back(make_error(Errc::forbidden, "no such sender: " + request.from));
      continue;
    }
    if (!heads.contains(request.to)) {
      results.emplace_back(make_error(Errc::unknown_recipient, "no such user: " + request.to));
      continue;
    }
    SendResult result;
    result.msg_id = request.msg_id;
    result.ts = request.ts;
    const auto add_entry = [&](const std::string& owner, const std::string& peer) {
      InboxEntry entry{owner,      ++heads[owner], request.msg_id, request.from,
                       request.to, request.body,   request.ts};
      columns.add_entry(entry, peer);
      advanced.insert(owner);
      auto route = routes.find(owner);
      result.routes.push_back(route == routes.end() ? std::vector<std::string>{} : route->second);
      result.entries.push_back(std::move(entry));
    };
    add_entry(request.to, request.from);
    if (request.from != request.to) add_entry(request.from, request.to);
    result.sender_seq = result.entries.back().seq;

    columns.key_sender.push_back(request.from);
    columns.key_client_id.push_back(request.client_id);
    columns.key_msg_id.push_back(request.msg_id);
    columns.key_seq.push_back(static_cast<int64_t>(result.sender_seq));
    columns.key_ts.push_back(request.ts);
    originals.emplace(std::move(key), Original{request.msg_id, result.sender_seq, request.ts});
    results.emplace_back(std::move(result));
  }

  // Round two: write, commit, then the best-effort writes as a transaction of their own.
  std::vector<Statement> round_two;
  if (!columns.owner.empty()) {
    std::vector<std::string> head_owners(advanced.begin(), advanced.end());
    std::vector<int64_t> head_seqs;
    for (const std::string& owner : head_owners) {
      head_seqs.push_back(static_cast<int64_t>(heads[owner]));
    }
    round_two.push_back({.sql = kInsertEntries,
                         .params = Params()
                                       .text_array(columns.owner)
                                       .int64_array(columns.seq)
                                       .text_array(columns.msg_id)
                                       .text_array(columns.sender)
                                       .text_array(columns.recipient)
                                       .text_array(columns.peer)
                                       .text_array(columns.body)
                                       .int64_array(columns.ts)});
    round_two.push_back(
        {.sql = kAdvanceHeads, .params = Params().text_array(head_owners).int64_array(head_seqs)});
    round_two.push_back({.sql = kRecordKeys,
                         .params = Params()
                                       .text_array(columns.key_sender)
                                       .text_array(columns.key_client_id)
                                       .text_array(columns.key_msg_id)
                                       .int64_array(columns.key_seq)
                                       .int64_array(columns.key_ts)});
  }
  const bool in_transaction = !appends.empty();
  if (in_transaction) round_two.push_back({.sql = "COMMIT"});
  const std::size_t committed_after = round_two.size();  // statements up to the COMMIT

  // Sorted, and one row per user (the latest time) or per (user, node): a canonical lock order.
  std::map<std::string, int64_t> seen;
  for (const TouchJob* touch : touches) seen[touch->username] = touch->now_ms;
  if (!seen.empty()) {
    std::vector<std::string> users;
    std::vector<int64_t> times;
    for (const auto& [user, ms] : seen) users.push_back(user), times.push_back(ms);
    round_two.push_back({.sql = kTouch, .params = Params().text_array(users).int64_array(times)});
  }
  std::map<std::pair<std::string, std::string>, int64_t> gone;
  for (const DetachJob* detach : detaches) ++gone[{detach->user, detach->node}];
  if (!gone.empty()) {
    std::vector<std::string> users;
    std::vector<std::string> nodes;
    std::vector<int64_t> counts;
    for (const auto& [pair, n] : gone) {
      users.push_back(pair.first), nodes.push_back(pair.second), counts.push_back(n);
    }
    for (std::string_view sql : {kDetachLast, kDetachSome}) {
      round_two.push_back(
          {.sql = sql, .params = Params().text_array(users).text_array(nodes).int64_array(counts)});
    }
  }

  Result<std::vector<Rows>> written = db_->round_trip("append", round_two);
  if (!written.ok() && in_transaction && db_->completed() < committed_after) {
    // A statement that failed before the COMMIT rolled everything back. A connection that failed
    // instead may have taken the COMMIT with it, or not.
    if (db_->broken() && db_->sqlstate().empty()) {
      const Error unknown = make_error(
          Errc::unavailable, written.error().message +
                                 " (the messages may have been stored: resend with the same id)");
      abandon(unknown);
      return {.status = unknown};
    }
    return abandon(written.error());
  }
  if (!written.ok()) {
    log::warn("postgres store: last-seen or presence updates were lost: ", written.error().message);
    abandon(written.error());
  }
  if (in_transaction || written.ok()) commits_.fetch_add(1);
  for (std::size_t i = 0; i < appends.size(); ++i) appends[i]->result = std::move(results[i]);
  return {};
}

// --- user operations

void Writer::run_user_ops(std::span<Job> jobs) {
  std::vector<Job*> ops;
  for (Job& job : jobs) {
    std::visit(Overloaded{
                   [&](CreateUserJob& j) {
                     if (postgres::storable(j.username)) {
                       ops.push_back(&job);
                     } else {
                       j.result = not_storable("a username");
                     }
                   },
                   [&](DeleteUserJob& j) {
                     if (postgres::storable(j.username)) {
                       ops.push_back(&job);
                     } else {
                       // No user can have such a name.
                       j.result = make_error(Errc::not_found, "no such user");
                     }
                   },
                   [](auto&) {},
               },
               job);
  }
  if (ops.empty()) return;

  Attempt attempt;
  for (int n = 1;; ++n) {
    attempt = try_user_ops(ops);
    if (attempt.status.ok() || !attempt.retry || n == kMaxAttempts) break;
    log::info("postgres store: running ", ops.size(), " user operations again (",
              attempt.status.error().message, ")");
    backoff(n);
  }
  if (attempt.status.ok()) return;
  log::warn("postgres store: ", ops.size(),
            " user operations were not committed: ", attempt.status.error().message);
  const Error failed = unavailable(attempt.status.error());
  for (Job* job : ops) {
    std::visit(Overloaded{
                   [&](CreateUserJob& j) { j.result = failed; },
                   [&](DeleteUserJob& j) { j.result = failed; },
                   [](auto&) {},
               },
               *job);
  }
}

Writer::Attempt Writer::try_user_ops(std::span<Job*> ops) {
  if (Status s = connect(); !s.ok()) return {.status = s.error()};
  std::vector<Statement> statements;
  statements.push_back({.sql = "BEGIN"});
  for (Job* job : ops) {
    std::visit(
        Overloaded{
            [&](const CreateUserJob& j) {
              statements.push_back(
                  {.sql = kCreateUser, .params = Params().text(j.username).int64(j.now_ms)});
            },
            [&](const DeleteUserJob& j) {
              statements.push_back({.sql = kDeleteUser, .params = Params().text(j.username)});
            },
            [](const auto&) {},
        },
        *job);
  }
  statements.push_back({.sql = "COMMIT"});

  Result<std::vector<Rows>> done = db_->round_trip("user", statements);
  if (!done.ok()) {
    if (db_->broken() && db_->sqlstate().empty()) {
      const Error unknown = make_error(
          Errc::unavailable, done.error().message + " (the change may have been applied)");
      abandon(unknown);
      return {.status = unknown};
    }
    return abandon(done.error());
  }
  commits_.fetch_add(1);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const bool changed = (*done)[i + 1].size() == 1;
    std::visit(Overloaded{
                   [&](CreateUserJob& j) {
                     if (changed) {
                       j.result = User{j.username, j.now_ms, std::nullopt};
                     } else {
                       j.result = make_error(Errc::conflict, "user exists: " + j.username);
                     }
                   },
                   [&](DeleteUserJob& j) {
                     if (changed) {
                       j.result = Ok{};
                     } else {
                       j.result = make_error(Errc::not_found, "no such user: " + j.username);
                     }
                   },
                   [](auto&) {},
               },
               *ops[i]);
  }
  return {};
}

}  // namespace chat::store::postgres
