#include "store/postgres/schema.h"

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chat::store::postgres {
namespace {

// Any constant will do, as long as it is the same in every build: "chat" and the lock's purpose.
constexpr int64_t kMigrationLock = 0x6368'6174'0000'0001;

// v1. The tables, and why they look this way:
//  - Every key is text COLLATE "C": byte order, as in RocksStore (list_users pages in the same
//    order), cheaper to compare, and the order in which batches lock inbox heads does not depend
//    on the database's locale.
//  - heads holds each user's last seq. It is the lock of an inbox: an append locks the heads rows
//    of its owners (FOR UPDATE, sorted by owner) and derives the next seqs from them, so seqs stay
//    gapless with many writers; attach() reads it FOR SHARE, which orders a registration against
//    appends. A user has a heads row exactly when they have a users row (created together; deleted
//    by cascade).
//  - inbox, sends and presence reference heads rather than users: their writers already hold the
//    heads row, so the foreign-key checks take no other lock, and every transaction that writes
//    them locks heads first, in one order. Deleting a user cascades users -> heads -> the rest.
//  - inbox.peer is the other party (the owner itself for a note to self) so that history() is one
//    range scan of inbox_by_peer.
//  - sends is the idempotency record of (sender, client_id).
//  - nodes and presence are the routing registry (store/presence.h); presence_by_node serves the
//    cascades of reap() and leave() and reset_presence().
constexpr std::string_view kV1[] = {
    R"sql(CREATE TABLE users (
        username   text COLLATE "C" PRIMARY KEY,
        created_at bigint NOT NULL,
        last_seen  bigint
      ))sql",
    R"sql(CREATE TABLE heads (
        owner    text COLLATE "C" PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
        last_seq bigint NOT NULL DEFAULT 0
      ))sql",
    R"sql(CREATE TABLE inbox (
        owner     text COLLATE "C" NOT NULL REFERENCES heads (owner) ON DELETE CASCADE,
        seq       bigint NOT NULL,
        msg_id    text NOT NULL,
        sender    text NOT NULL,
        recipient text NOT NULL,
        peer      text COLLATE "C" NOT NULL,
        body      text NOT NULL,
        ts        bigint NOT NULL,
        PRIMARY KEY (owner, seq)
      ))sql",    "CREATE INDEX inbox_by_peer ON inbox (owner, peer, seq)",
    R"sql(CREATE TABLE sends (
        sender    text COLLATE "C" NOT NULL REFERENCES heads (owner) ON DELETE CASCADE,
        client_id text COLLATE "C" NOT NULL,
        msg_id    text NOT NULL,
        seq       bigint NOT NULL,
        ts        bigint NOT NULL,
        PRIMARY KEY (sender, client_id)
      ))sql",
    R"sql(CREATE TABLE nodes (
        node_id      text COLLATE "C" PRIMARY KEY,
        heartbeat_at timestamptz NOT NULL,
        started_at   timestamptz NOT NULL
      ))sql",
    R"sql(CREATE TABLE presence (
        username    text COLLATE "C" NOT NULL REFERENCES heads (owner) ON DELETE CASCADE,
        node_id     text COLLATE "C" NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        connections integer NOT NULL CHECK (connections > 0),
        PRIMARY KEY (username, node_id)
      ))sql", "CREATE INDEX presence_by_node ON presence (node_id)",
};

// Migration i takes the schema from version i to i + 1. Append; never edit a shipped one.
constexpr std::array<std::span<const std::string_view>, 1> kMigrations = {kV1};

Status migrate_in_transaction(Connection& db) {
  Statement lock[] = {
      {.sql = "BEGIN", .prepare = false},
      {.sql = "SELECT pg_advisory_xact_lock($1::bigint)",
       .params = Params().int64(kMigrationLock),
       .prepare = false},
      {.sql = "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
       .prepare = false},
      {.sql = "SELECT coalesce(max(version), 0) FROM schema_version", .prepare = false},
  };
  Result<std::vector<Rows>> locked = db.round_trip("migrate", lock);
  if (!locked.ok()) return locked.error();
  const int64_t version = (*locked)[3].int64(0, 0);
  const auto known = static_cast<int64_t>(kMigrations.size());
  if (version > known) {
    return make_error(Errc::internal, "postgres: schema version " + std::to_string(version) +
                                          " is newer than this build's " + std::to_string(known));
  }

  std::vector<Statement> steps;
  for (int64_t v = version; v < known; ++v) {
    for (std::string_view sql : kMigrations[static_cast<std::size_t>(v)]) {
      steps.push_back({.sql = sql, .prepare = false});
    }
  }
  if (version < known) {
    steps.push_back({.sql = "DELETE FROM schema_version", .prepare = false});
    steps.push_back({.sql = "INSERT INTO schema_version (version) VALUES ($1::integer)",
                     .params = Params().int64(known),
                     .prepare = false});
  }
  steps.push_back({.sql = "COMMIT", .prepare = false});
  Result<std::vector<Rows>> migrated = db.round_trip("migrate", steps);
  if (!migrated.ok()) return migrated.error();
  return Ok{};
}

}  // namespace

Status migrate(Connection& db) {
  Status status = migrate_in_transaction(db);
  if (!status.ok() && !db.broken() && db.in_transaction()) {
    Statement rollback[] = {{.sql = "ROLLBACK", .prepare = false}};
    (void)db.round_trip("migrate", rollback);
  }
  return status;
}

}  // namespace chat::store::postgres
