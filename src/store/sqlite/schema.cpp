#include "store/sqlite/schema.h"

#include <array>
#include <string>

namespace chat::store::sqlite {
namespace {

// Migration i takes the database from user_version i to i + 1. Append; never edit a shipped one.
constexpr std::array<std::string_view, 1> kMigrations = {
    // v1. `peer` is the other party of a message (the owner itself for a note to self) so that
    // history() is one range scan of inbox_by_peer. Deleting a user cascades to their inbox and
    // idempotency keys; other users keep their copies.
    R"sql(
      CREATE TABLE users (
        username   TEXT NOT NULL PRIMARY KEY,
        created_at INTEGER NOT NULL,
        last_seen  INTEGER
      ) WITHOUT ROWID;

      CREATE TABLE inbox (
        owner     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        seq       INTEGER NOT NULL,
        msg_id    TEXT NOT NULL,
        sender    TEXT NOT NULL,
        recipient TEXT NOT NULL,
        peer      TEXT NOT NULL,
        body      TEXT NOT NULL,
        ts        INTEGER NOT NULL,
        PRIMARY KEY (owner, seq)
      ) WITHOUT ROWID;
      CREATE INDEX inbox_by_peer ON inbox (owner, peer, seq);

      CREATE TABLE sends (
        sender    TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        client_id TEXT NOT NULL,
        msg_id    TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        ts        INTEGER NOT NULL,
        PRIMARY KEY (sender, client_id)
      ) WITHOUT ROWID;
    )sql",
};

Result<int64_t> user_version(Connection& db) {
  Result<Statement> statement = db.prepare("PRAGMA user_version");
  if (!statement.ok()) return statement.error();
  Result<bool> row = statement->step();
  if (!row.ok()) return row.error();
  return statement->int64(0);
}

Status migrate_in_transaction(Connection& db) {
  Result<int64_t> version = user_version(db);
  if (!version.ok()) return version.error();
  const auto known = static_cast<int64_t>(kMigrations.size());
  if (*version > known) {
    return make_error(Errc::internal, "sqlite: schema version " + std::to_string(*version) +
                                          " is newer than this build's " + std::to_string(known));
  }
  for (int64_t v = *version; v < known; ++v) {
    Status s = db.exec_script(std::string(kMigrations[static_cast<std::size_t>(v)]));
    if (!s.ok()) return s;
  }
  return db.run("PRAGMA user_version = " + std::to_string(known));
}

}  // namespace

Status migrate(Connection& db) {
  // IMMEDIATE: two processes opening a fresh file must not both create the tables.
  if (Status s = db.run("BEGIN IMMEDIATE"); !s.ok()) return s;
  Status status = migrate_in_transaction(db);
  if (status.ok()) status = db.run("COMMIT");
  if (!status.ok() && db.in_transaction()) (void)db.run("ROLLBACK");
  return status;
}

}  // namespace chat::store::sqlite
