#include "store/sqlite/sqlite_store.h"

#include <limits>
#include <utility>

#include "store/sqlite/connection.h"
#include "store/sqlite/reader_pool.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/writer.h"

namespace chat::store {
namespace {

using sqlite::Connection;
using sqlite::ReaderPool;
using sqlite::Statement;

constexpr std::string_view kEntryColumns = "owner, seq, msg_id, sender, recipient, body, ts";

InboxEntry entry_from(const Statement& row) {
  return InboxEntry{.owner = row.text(0),
                    .seq = static_cast<uint64_t>(row.int64(1)),
                    .msg_id = row.text(2),
                    .from = row.text(3),
                    .to = row.text(4),
                    .body = row.text(5),
                    .ts = row.int64(6)};
}

Result<std::vector<InboxEntry>> collect_entries(Statement& statement) {
  std::vector<InboxEntry> entries;
  for (;;) {
    Result<bool> row = statement.step();
    if (!row.ok()) return row.error();
    if (!*row) return entries;
    entries.push_back(entry_from(statement));
  }
}

User user_from(const Statement& row) {
  User user{row.text(0), row.int64(1), std::nullopt};
  if (!row.is_null(2)) user.last_seen = row.int64(2);
  return user;
}

Status check_limit(int limit) {
  if (limit < 1) return make_error(Errc::bad_request, "limit must be at least 1");
  return Ok{};
}

// SQLite integers are signed; seqs never get near the top, but a caller's bound might.
int64_t to_sql(uint64_t seq) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(seq < kMax ? seq : kMax);
}

Result<std::string> journal_mode(Connection& db, std::string_view mode) {
  Result<Statement> pragma = db.prepare("PRAGMA journal_mode = " + std::string(mode));
  if (!pragma.ok()) return pragma.error();
  Result<bool> row = pragma->step();
  if (!row.ok()) return row.error();
  return pragma->text(0);
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       SqliteOptions options) {
  Result<std::unique_ptr<Connection>> db =
      Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options.busy_timeout);
  if (!db.ok()) return db.error();

  // WAL lets readers run beside the writer. It cannot be had for an in-memory database, whose
  // readers would not see the writer's data anyway.
  Result<std::string> mode = journal_mode(**db, "WAL");
  if (!mode.ok()) return mode.error();
  if (*mode != "wal") {
    return make_error(Errc::internal, "sqlite: " + path + " cannot use WAL (got " + *mode + ")");
  }
  // FULL syncs the WAL at every commit: an acknowledged write survives power loss.
  for (const char* pragma : {"PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON"}) {
    if (Status s = (*db)->run(pragma); !s.ok()) return s.error();
  }
  if (Status s = sqlite::migrate(**db); !s.ok()) return s.error();

  auto readers = std::make_unique<ReaderPool>(path, options.busy_timeout);
  {
    // Fail now rather than on the first read.
    Result<ReaderPool::Lease> probe = readers->acquire();
    if (!probe.ok()) return probe.error();
  }
  auto writer = std::make_unique<sqlite::Writer>(std::move(db).value(), options.max_batch);
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(readers), std::move(writer)));
}

SqliteStore::SqliteStore(std::unique_ptr<ReaderPool> readers,
                         std::unique_ptr<sqlite::Writer> writer)
    : readers_(std::move(readers)), writer_(std::move(writer)) {}

SqliteStore::~SqliteStore() { drain(); }

void SqliteStore::drain() { writer_->drain(); }

uint64_t SqliteStore::commits() const { return writer_->commits(); }

void SqliteStore::create_user(std::string username, int64_t now_ms, Callback<User> done) {
  writer_->create_user(std::move(username), now_ms, std::move(done));
}

void SqliteStore::delete_user(std::string username, Callback<Ok> done) {
  writer_->delete_user(std::move(username), std::move(done));
}

void SqliteStore::touch_last_seen(std::string username, int64_t now_ms) {
  writer_->touch_last_seen(std::move(username), now_ms);
}

void SqliteStore::append(SendRequest request, Callback<SendResult> done) {
  writer_->append(std::move(request), std::move(done));
}

// In the reads below the Statement is declared after the Lease so that it is reset before the
// connection goes back to the pool.

Result<User> SqliteStore::get_user(std::string_view username) {
  Result<ReaderPool::Lease> db = readers_->acquire();
  if (!db.ok()) return db.error();
  Result<Statement> select = db->connection().prepare(
      "SELECT username, created_at, last_seen FROM users WHERE username = ?1");
  if (!select.ok()) return select.error();
  select->bind(1, username);
  Result<bool> row = select->step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error(Errc::not_found, "no such user: " + std::string(username));
  return user_from(*select);
}

Result<UserPage> SqliteStore::list_users(std::string_view after, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Result<ReaderPool::Lease> db = readers_->acquire();
  if (!db.ok()) return db.error();
  Result<Statement> select = db->connection().prepare(
      "SELECT username, created_at, last_seen FROM users WHERE username > ?1"
      " ORDER BY username LIMIT ?2");
  if (!select.ok()) return select.error();
  // One row more than asked tells whether there is a next page.
  select->bind(1, after).bind(2, int64_t{limit} + 1);
  UserPage page;
  for (;;) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    if (page.users.size() == static_cast<std::size_t>(limit)) {
      page.next = page.users.back().username;
      break;
    }
    page.users.push_back(user_from(*select));
  }
  return page;
}

Result<std::vector<InboxEntry>> SqliteStore::read_inbox(std::string_view owner, uint64_t after,
                                                        int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Result<ReaderPool::Lease> db = readers_->acquire();
  if (!db.ok()) return db.error();
  Result<Statement> select =
      db->connection().prepare("SELECT " + std::string(kEntryColumns) +
                               " FROM inbox WHERE owner = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
  if (!select.ok()) return select.error();
  select->bind(1, owner).bind(2, to_sql(after)).bind(3, int64_t{limit});
  return collect_entries(*select);
}

Result<std::vector<InboxEntry>> SqliteStore::history(std::string_view owner, std::string_view peer,
                                                     uint64_t before, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  Result<ReaderPool::Lease> db = readers_->acquire();
  if (!db.ok()) return db.error();
  Result<Statement> select = db->connection().prepare(
      "SELECT " + std::string(kEntryColumns) +
      " FROM inbox WHERE owner = ?1 AND peer = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4");
  if (!select.ok()) return select.error();
  const uint64_t bound = before == 0 ? std::numeric_limits<uint64_t>::max() : before;
  select->bind(1, owner).bind(2, peer).bind(3, to_sql(bound)).bind(4, int64_t{limit});
  return collect_entries(*select);
}

Result<uint64_t> SqliteStore::last_seq(std::string_view owner) {
  Result<ReaderPool::Lease> db = readers_->acquire();
  if (!db.ok()) return db.error();
  Result<Statement> select =
      db->connection().prepare("SELECT coalesce(max(seq), 0) FROM inbox WHERE owner = ?1");
  if (!select.ok()) return select.error();
  select->bind(1, owner);
  Result<bool> row = select->step();
  if (!row.ok()) return row.error();
  return static_cast<uint64_t>(select->int64(0));
}

}  // namespace chat::store
