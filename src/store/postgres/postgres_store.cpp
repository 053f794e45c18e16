#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include "store/postgres/connection.h"
#include "store/postgres/connector.h"
#include "store/postgres/pool.h"
#include "store/postgres/schema.h"
#include "store/postgres/writer.h"

namespace chat::store {
namespace {

using postgres::Params;
using postgres::Rows;
using postgres::Statement;

// --- reads
constexpr std::string_view kGetUser =
    "SELECT username, created_at, last_seen FROM users WHERE username = $1";
// One row more than asked tells whether there is a next page.
constexpr std::string_view kListUsers =
    "SELECT username, created_at, last_seen FROM users WHERE username > $1"
    " ORDER BY username LIMIT $2::bigint";
constexpr std::string_view kReadInbox =
    "SELECT owner, seq, msg_id, sender, recipient, body, ts FROM inbox"
    " WHERE owner = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint";
constexpr std::string_view kHistory =
    "SELECT owner, seq, msg_id, sender, recipient, body, ts FROM inbox"
    " WHERE owner = $1 AND peer = $2 AND seq < $3::bigint ORDER BY seq DESC LIMIT $4::bigint";
// A loose index scan of inbox_by_peer (owner, peer, seq): the recursive part steps from one peer
// to the next with one index probe each, and the lateral part takes each peer's latest entry with
// another; the inbox itself is never scanned.
constexpr std::string_view kConversations =
    "WITH RECURSIVE peers(peer) AS ("
    "  (SELECT peer FROM inbox WHERE owner = $1 ORDER BY peer LIMIT 1)"
    "  UNION ALL"
    "  SELECT (SELECT i.peer FROM inbox i WHERE i.owner = $1 AND i.peer > p.peer"
    "          ORDER BY i.peer LIMIT 1)"
    "  FROM peers p WHERE p.peer IS NOT NULL)"
    " SELECT l.owner, l.seq, l.msg_id, l.sender, l.recipient, l.body, l.ts, p.peer"
    " FROM peers p CROSS JOIN LATERAL ("
    "  SELECT owner, seq, msg_id, sender, recipient, body, ts FROM inbox"
    "  WHERE owner = $1 AND peer = p.peer ORDER BY seq DESC LIMIT 1) l"
    " WHERE l.seq < $2::bigint ORDER BY l.seq DESC LIMIT $3::bigint";
constexpr std::string_view kFindUsers =
    "SELECT username, created_at, last_seen FROM users WHERE username = ANY($1::text[])";
// The heads row is the inbox's head: no scan of the inbox.
constexpr std::string_view kLastSeq = "SELECT last_seq FROM heads WHERE owner = $1";
constexpr std::string_view kLastSeqs =
    "SELECT owner, last_seq FROM heads WHERE owner = ANY($1::text[])";

// --- presence. A node is live while its heartbeat (database time) is younger than kNodeLiveness.
// FOR SHARE conflicts with the append's FOR UPDATE on the same heads row: an entry is either
// committed before (and <= the head returned) or sees this presence row (and is routed here).
constexpr std::string_view kAttachHead = "SELECT last_seq FROM heads WHERE owner = $1 FOR SHARE";
// Keeps reap() from removing the node between the upsert and its foreign-key check.
constexpr std::string_view kLockNode = "SELECT 1 FROM nodes WHERE node_id = $1 FOR KEY SHARE";
// Inserts nothing for a missing user (attach answers forbidden) or a node without a row (reaped
// while cut off: its next heartbeat says so, and reset_presence rewrites its rows).
constexpr std::string_view kAttachCount =
    "INSERT INTO presence (username, node_id, connections)"
    " SELECT h.owner, n.node_id, 1 FROM heads h, nodes n WHERE h.owner = $1 AND n.node_id = $2"
    " ON CONFLICT (username, node_id) DO UPDATE SET connections = presence.connections + 1";
constexpr std::string_view kUserExists = "SELECT 1 FROM users WHERE username = $1";
constexpr std::string_view kNodesOf =
    "SELECT p.node_id FROM presence p JOIN nodes n ON n.node_id = p.node_id"
    " WHERE p.username = $1 AND n.heartbeat_at > now() - $2::bigint * interval '1 millisecond'"
    " ORDER BY p.node_id";
constexpr std::string_view kLiveNodes =
    "SELECT node_id FROM nodes WHERE heartbeat_at > now() - $1::bigint * interval '1 millisecond'"
    " ORDER BY node_id";
constexpr std::string_view kConnectionCounts =
    "SELECT p.username, sum(p.connections) FROM presence p JOIN nodes n ON n.node_id = p.node_id"
    " WHERE p.username = ANY($1::text[])"
    " AND n.heartbeat_at > now() - $2::bigint * interval '1 millisecond' GROUP BY p.username";

// --- membership
// xmax is 0 in a row version this statement inserted, and our transaction id when it updated one.
constexpr std::string_view kHeartbeat =
    "INSERT INTO nodes (node_id, heartbeat_at, started_at) VALUES ($1, now(), now())"
    " ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now() RETURNING (xmax = 0)";
constexpr std::string_view kClearPresence = "DELETE FROM presence WHERE node_id = $1";
// Users deleted meanwhile drop out in the join rather than failing the foreign key.
constexpr std::string_view kRestorePresence =
    "INSERT INTO presence (username, node_id, connections)"
    " SELECT h.owner, n.node_id, c.n FROM unnest($2::text[], $3::integer[]) AS c (username, n)"
    " JOIN heads h ON h.owner = c.username JOIN nodes n ON n.node_id = $1";
constexpr std::string_view kReap =
    "DELETE FROM nodes WHERE heartbeat_at < now() - $1::bigint * interval '1 millisecond'"
    " RETURNING node_id";
constexpr std::string_view kLeave = "DELETE FROM nodes WHERE node_id = $1";

const int64_t kLivenessMs = kNodeLiveness.count();

InboxEntry entry_from(const Rows& rows, int r) {
  return InboxEntry{.owner = rows.text(r, 0),
                    .seq = static_cast<uint64_t>(rows.int64(r, 1)),
                    .msg_id = rows.text(r, 2),
                    .from = rows.text(r, 3),
                    .to = rows.text(r, 4),
                    .body = rows.text(r, 5),
                    .ts = rows.int64(r, 6)};
}

std::vector<InboxEntry> entries_from(const Rows& rows) {
  std::vector<InboxEntry> entries;
  entries.reserve(static_cast<std::size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) entries.push_back(entry_from(rows, r));
  return entries;
}

User user_from(const Rows& rows, int r) {
  User user{rows.text(r, 0), rows.int64(r, 1), std::nullopt};
  if (!rows.is_null(r, 2)) user.last_seen = rows.int64(r, 2);
  return user;
}

std::vector<std::string> column_of(const Rows& rows) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) out.push_back(rows.text(r, 0));
  return out;
}

Status check_limit(int limit) {
  if (limit < 1) return make_error(Errc::bad_request, "limit must be at least 1");
  return Ok{};
}

// Seqs are bigint; they never get near the top, but a caller's bound might.
int64_t to_sql(uint64_t seq) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(std::min(seq, kMax));
}

}  // namespace

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(PostgresOptions options) {
  if (options.url.empty()) return make_error(Errc::bad_request, "postgres: no database URL");
  auto connector = std::make_shared<postgres::Connector>(postgres::ConnectOptions{
      .url = std::move(options.url),
      .connect_timeout = std::max(options.connect_timeout, std::chrono::milliseconds(1)),
      .statement_timeout = std::max(options.statement_timeout, std::chrono::milliseconds(1)),
  });
  Result<std::unique_ptr<postgres::Connection>> db = connector->connect();
  if (!db.ok()) return db.error();
  if (Status s = postgres::migrate(**db); !s.ok()) return s.error();

  auto readers = std::make_unique<postgres::Pool>(connector, options.readers);
  // Fail now rather than on the first read.
  if (Status s = readers->probe(); !s.ok()) return s.error();
  auto writer =
      std::make_unique<postgres::Writer>(connector, std::move(db).value(), options.max_batch);
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(readers), std::move(writer)));
}

PostgresStore::PostgresStore(std::unique_ptr<postgres::Pool> readers,
                             std::unique_ptr<postgres::Writer> writer)
    : readers_(std::move(readers)), writer_(std::move(writer)) {}

PostgresStore::~PostgresStore() { drain(); }

void PostgresStore::drain() { writer_->drain(); }

uint64_t PostgresStore::commits() const { return writer_->commits(); }

// --- writes: all through the writer's queue, in order

void PostgresStore::create_user(std::string username, int64_t now_ms, Callback<User> done) {
  writer_->create_user(std::move(username), now_ms, std::move(done));
}

void PostgresStore::delete_user(std::string username, Callback<Ok> done) {
  writer_->delete_user(std::move(username), std::move(done));
}

void PostgresStore::touch_last_seen(std::string username, int64_t now_ms) {
  writer_->touch_last_seen(std::move(username), now_ms);
}

void PostgresStore::append(SendRequest request, Callback<SendResult> done) {
  writer_->append(std::move(request), std::move(done));
}

// Best effort and off the caller's thread: it rides with the writer's next transaction.
void PostgresStore::detach(std::string user, std::string node) {
  writer_->detach(std::move(user), std::move(node));
}

// --- reads: on the caller's thread, one round trip on a pooled connection

Result<User> PostgresStore::get_user(std::string_view username) {
  Statement read[] = {{.sql = kGetUser, .params = Params().text(username)}};
  Result<std::vector<Rows>> rows = readers_->run("get_user", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  if ((*rows)[0].size() == 0) {
    return make_error(Errc::not_found, "no such user: " + std::string(username));
  }
  return user_from((*rows)[0], 0);
}

Result<std::vector<User>> PostgresStore::find_users(const std::vector<std::string>& usernames) {
  if (usernames.empty()) return std::vector<User>{};
  Statement read[] = {{.sql = kFindUsers, .params = Params().text_array(usernames)}};
  Result<std::vector<Rows>> rows = readers_->run("find_users", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  const Rows& found = (*rows)[0];
  std::unordered_map<std::string, User> by_name;
  for (int r = 0; r < found.size(); ++r) {
    User user = user_from(found, r);
    std::string name = user.username;
    by_name.emplace(std::move(name), std::move(user));
  }
  std::vector<User> users;
  for (const std::string& name : usernames) {
    auto it = by_name.find(name);
    if (it != by_name.end()) users.push_back(it->second);
  }
  return users;
}

Result<UserPage> PostgresStore::list_users(std::string_view after, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Statement read[] = {
      {.sql = kListUsers, .params = Params().text(after).int64(int64_t{limit} + 1)}};
  Result<std::vector<Rows>> rows = readers_->run("list_users", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  const Rows& users = (*rows)[0];
  UserPage page;
  for (int r = 0; r < users.size(); ++r) {
    if (page.users.size() == static_cast<std::size_t>(limit)) {
      page.next = page.users.back().username;
      break;
    }
    page.users.push_back(user_from(users, r));
  }
  return page;
}

Result<std::vector<InboxEntry>> PostgresStore::read_inbox(std::string_view owner, uint64_t after,
                                                          int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Statement read[] = {
      {.sql = kReadInbox, .params = Params().text(owner).int64(to_sql(after)).int64(limit)}};
  Result<std::vector<Rows>> rows = readers_->run("read_inbox", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  return entries_from((*rows)[0]);
}

Result<std::vector<InboxEntry>> PostgresStore::history(std::string_view owner,
                                                       std::string_view peer, uint64_t before,
                                                       int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  const uint64_t bound = before == 0 ? std::numeric_limits<uint64_t>::max() : before;
  Statement read[] = {
      {.sql = kHistory,
       .params = Params().text(owner).text(peer).int64(to_sql(bound)).int64(limit)}};
  Result<std::vector<Rows>> rows = readers_->run("history", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  return entries_from((*rows)[0]);
}

Result<std::vector<Conversation>> PostgresStore::conversations(std::string_view owner,
                                                               uint64_t before, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  const uint64_t bound = before == 0 ? std::numeric_limits<uint64_t>::max() : before;
  Statement read[] = {
      {.sql = kConversations, .params = Params().text(owner).int64(to_sql(bound)).int64(limit)}};
  Result<std::vector<Rows>> rows = readers_->run("conversations", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  const Rows& latest = (*rows)[0];
  std::vector<Conversation> out;
  out.reserve(static_cast<std::size_t>(latest.size()));
  for (int r = 0; r < latest.size(); ++r) out.push_back({latest.text(r, 7), entry_from(latest, r)});
  return out;
}

Result<uint64_t> PostgresStore::last_seq(std::string_view owner) {
  Statement read[] = {{.sql = kLastSeq, .params = Params().text(owner)}};
  Result<std::vector<Rows>> rows = readers_->run("last_seq", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  const Rows& head = (*rows)[0];
  return head.size() == 0 ? uint64_t{0} : static_cast<uint64_t>(head.int64(0, 0));
}

Result<std::vector<uint64_t>> PostgresStore::last_seqs(const std::vector<std::string>& owners) {
  if (owners.empty()) return std::vector<uint64_t>{};
  Statement read[] = {{.sql = kLastSeqs, .params = Params().text_array(owners)}};
  Result<std::vector<Rows>> rows = readers_->run("last_seqs", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  const Rows& heads = (*rows)[0];
  std::unordered_map<std::string, uint64_t> by_owner;
  for (int r = 0; r < heads.size(); ++r) {
    by_owner.emplace(heads.text(r, 0), static_cast<uint64_t>(heads.int64(r, 1)));
  }
  std::vector<uint64_t> out;
  out.reserve(owners.size());
  for (const std::string& owner : owners) {
    auto it = by_owner.find(owner);
    out.push_back(it == by_owner.end() ? 0 : it->second);
  }
  return out;
}

// --- Presence

Result<uint64_t> PostgresStore::attach(std::string_view user, std::string_view node) {
  Statement transaction[] = {
      {.sql = "BEGIN"},
      {.sql = kAttachHead, .params = Params().text(user)},
      {.sql = kLockNode, .params = Params().text(node)},
      {.sql = kAttachCount, .params = Params().text(user).text(node)},
      {.sql = "COMMIT"},
  };
  Result<std::vector<Rows>> rows = readers_->run("attach", transaction, /*idempotent=*/false);
  if (!rows.ok()) return rows.error();
  const Rows& head = (*rows)[1];
  if (head.size() == 0) return make_error(Errc::forbidden, "no such user: " + std::string(user));
  return static_cast<uint64_t>(head.int64(0, 0));
}

Result<std::vector<std::string>> PostgresStore::nodes_of(std::string_view user) {
  Statement read[] = {
      {.sql = kUserExists, .params = Params().text(user)},
      {.sql = kNodesOf, .params = Params().text(user).int64(kLivenessMs)},
  };
  Result<std::vector<Rows>> rows = readers_->run("nodes_of", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  if ((*rows)[0].size() == 0) {
    return make_error(Errc::not_found, "no such user: " + std::string(user));
  }
  return column_of((*rows)[1]);
}

Result<std::vector<std::string>> PostgresStore::live_nodes() {
  Statement read[] = {{.sql = kLiveNodes, .params = Params().int64(kLivenessMs)}};
  Result<std::vector<Rows>> rows = readers_->run("live_nodes", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  return column_of((*rows)[0]);
}

Result<std::vector<std::size_t>> PostgresStore::connection_counts(
    const std::vector<std::string>& users) {
  if (users.empty()) return std::vector<std::size_t>{};
  Statement read[] = {
      {.sql = kConnectionCounts, .params = Params().text_array(users).int64(kLivenessMs)}};
  Result<std::vector<Rows>> rows = readers_->run("connection_counts", read, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  const Rows& counts = (*rows)[0];
  std::unordered_map<std::string, std::size_t> by_user;
  for (int r = 0; r < counts.size(); ++r) {
    by_user.emplace(counts.text(r, 0), static_cast<std::size_t>(counts.int64(r, 1)));
  }
  std::vector<std::size_t> out;
  out.reserve(users.size());
  for (const std::string& user : users) {
    auto it = by_user.find(user);
    out.push_back(it == by_user.end() ? 0 : it->second);
  }
  return out;
}

// --- Membership

Result<bool> PostgresStore::heartbeat(std::string_view node) {
  Statement write[] = {{.sql = kHeartbeat, .params = Params().text(node)}};
  // Repeating it is harmless but could turn a "new" into "known": not idempotent in its answer.
  Result<std::vector<Rows>> rows = readers_->run("heartbeat", write, /*idempotent=*/false);
  if (!rows.ok()) return rows.error();
  return (*rows)[0].boolean(0, 0);
}

Status PostgresStore::reset_presence(
    std::string_view node, const std::vector<std::pair<std::string, std::size_t>>& counts) {
  // One row per user, sorted: the order in which the foreign-key checks lock heads rows.
  std::map<std::string, int64_t> merged;
  for (const auto& [user, n] : counts) {
    if (n > 0) merged[user] += static_cast<int64_t>(n);
  }
  std::vector<std::string> users;
  std::vector<int64_t> connections;
  for (const auto& [user, n] : merged) users.push_back(user), connections.push_back(n);
  Statement transaction[] = {
      {.sql = "BEGIN"},
      {.sql = kLockNode, .params = Params().text(node)},
      {.sql = kClearPresence, .params = Params().text(node)},
      {.sql = kRestorePresence,
       .params = Params().text(node).text_array(users).int64_array(connections)},
      {.sql = "COMMIT"},
  };
  Result<std::vector<Rows>> rows =
      readers_->run("reset_presence", transaction, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  if ((*rows)[1].size() == 0) {
    return make_error(
        Errc::not_found,
        "postgres: reset_presence: no such node (heartbeat first): " + std::string(node));
  }
  return Ok{};
}

Result<std::vector<std::string>> PostgresStore::reap(std::chrono::milliseconds silent_for) {
  Statement write[] = {{.sql = kReap, .params = Params().int64(silent_for.count())}};
  Result<std::vector<Rows>> rows = readers_->run("reap", write, /*idempotent=*/false);
  if (!rows.ok()) return rows.error();
  std::vector<std::string> nodes = column_of((*rows)[0]);
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

Status PostgresStore::leave(std::string_view node) {
  Statement write[] = {{.sql = kLeave, .params = Params().text(node)}};
  Result<std::vector<Rows>> rows = readers_->run("leave", write, /*idempotent=*/true);
  if (!rows.ok()) return rows.error();
  return Ok{};
}

}  // namespace chat::store
