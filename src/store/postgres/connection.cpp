#include "store/postgres/connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>

#include "base/log.h"

namespace chat::store::postgres {
namespace {

// Waits until the socket is ready for `events` or the deadline passes. Returns the events that
// occurred, 0 on timeout. Errors and hang-ups count as ready: libpq then reports what happened.
short wait_socket(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    pollfd descriptor{.fd = fd, .events = events, .revents = 0};
    const int rc =
        ::poll(&descriptor, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (rc > 0) return descriptor.revents;
    if (rc < 0 && errno != EINTR) return POLLERR;
  }
}

// libpq's messages span lines (with indented continuations); one line reads better in a log.
std::string one_line(const char* message) {
  std::string text;
  for (const char* c = message == nullptr ? "" : message; *c != '\0'; ++c) {
    const bool space = *c == '\n' || *c == '\t' || *c == ' ';
    if (!space) {
      text += *c;
    } else if (!text.empty() && text.back() != ' ') {
      text += ' ';
    }
  }
  if (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? "unknown error" : text;
}

void append_quoted(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

bool storable(std::string_view text) {
  // UTF-8 as PostgreSQL accepts it: no overlong forms, no surrogates, nothing above U+10FFFF.
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c == 0) return false;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int length = 0;
    uint32_t min = 0;
    uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2, min = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, min = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, min = 0x10000, code = c & 0x07;
    } else {
      return false;
    }
    if (end - p < length) return false;
    for (int i = 1; i < length; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      code = (code << 6) | (p[i] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    p += length;
  }
  return true;
}

Errc errc_of_sqlstate(std::string_view sqlstate) {
  const std::string_view klass = sqlstate.substr(0, 2);
  if (klass == "08" || klass == "40" || klass == "53" || klass == "57" || klass == "58") {
    return Errc::unavailable;
  }
  if (sqlstate == "55P03" || sqlstate == "55006" || sqlstate == "25006") return Errc::unavailable;
  return Errc::internal;
}

// --- Rows

std::string Rows::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

int64_t Rows::int64(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  int64_t out = 0;
  std::from_chars(value, value + std::strlen(value), out);
  return out;
}

bool Rows::boolean(int row, int column) const {
  return PQgetvalue(result_.get(), row, column)[0] == 't';
}

// --- Params

Params& Params::text(std::string_view value) {
  values_.emplace_back(value);
  return *this;
}

Params& Params::int64(int64_t value) {
  values_.push_back(std::to_string(value));
  return *this;
}

Params& Params::text_array(std::span<const std::string> values) {
  std::string literal = "{";
  for (const std::string& value : values) {
    if (literal.size() > 1) literal += ',';
    append_quoted(literal, value);
  }
  literal += '}';
  values_.push_back(std::move(literal));
  return *this;
}

Params& Params::int64_array(std::span<const int64_t> values) {
  std::string literal = "{";
  for (int64_t value : values) {
    if (literal.size() > 1) literal += ',';
    literal += std::to_string(value);
  }
  literal += '}';
  values_.push_back(std::move(literal));
  return *this;
}

// --- Connection

Result<std::unique_ptr<Connection>> Connection::open(const ConnectOptions& options) {
  const Clock::time_point deadline = Clock::now() + options.connect_timeout;
  // libpq's own connect_timeout (whole seconds, at least 2) only backs up the deadline below.
  const std::string timeout_s = std::to_string(std::max<int64_t>(
      2, std::chrono::ceil<std::chrono::seconds>(options.connect_timeout).count()));
  // Keywords before dbname are defaults that the URL may override; client_encoding after it is
  // forced: every string this store sends or reads is UTF-8.
  const char* const keywords[] = {"application_name", "connect_timeout", "dbname",
                                  "client_encoding", nullptr};
  const char* const values[] = {"chat-engine", timeout_s.c_str(), options.url.c_str(), "UTF8",
                                nullptr};
  // A URL that cannot be parsed is a mistake in the configuration, not an outage.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &parse_error);
  if (parsed == nullptr) {
    Error error =
        make_error(Errc::bad_request, "postgres: invalid database URL: " + one_line(parse_error));
    PQfreemem(parse_error);
    return error;
  }
  PQconninfoFree(parsed);

  PGconn* raw = PQconnectStartParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) return make_error(Errc::unavailable, "postgres: connect: out of memory");
  std::unique_ptr<Connection> connection(new Connection(raw, options));
  if (PQstatus(raw) == CONNECTION_BAD) {
    return make_error(Errc::unavailable, "postgres: connect: " + one_line(PQerrorMessage(raw)));
  }

  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) {
      return make_error(Errc::unavailable, "postgres: connect: " + one_line(PQerrorMessage(raw)));
    }
    // The socket may change between polls (libpq tries the next address).
    const short events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (wait_socket(PQsocket(raw), events, deadline) == 0) {
      return make_error(Errc::unavailable, "postgres: connect: no answer within " +
                                               std::to_string(options.connect_timeout.count()) +
                                               " ms");
    }
    status = PQconnectPoll(raw);
  }

  // Server notices ("relation ... already exists, skipping") would go to stderr unformatted; the
  // project's log is the place, at debug level.
  PQsetNoticeProcessor(
      raw, [](void*, const char* message) { log::debug("postgres: ", one_line(message)); },
      nullptr);
  if (PQsetnonblocking(raw, 1) != 0 || PQenterPipelineMode(raw) != 1) {
    return make_error(Errc::internal, "postgres: connect: cannot enter pipeline mode: " +
                                          one_line(PQerrorMessage(raw)));
  }
  Statement setup[] = {{.sql = "SELECT set_config('statement_timeout', $1, false),"
                               " current_setting('server_encoding')",
                        .params = Params().text(std::to_string(options.statement_timeout.count())),
                        .prepare = false}};
  Result<std::vector<Rows>> rows = connection->round_trip("connect", setup, deadline);
  if (!rows.ok()) return rows.error();
  if (const std::string encoding = (*rows)[0].text(0, 1); encoding != "UTF8") {
    return make_error(Errc::internal, "postgres: connect: the database's encoding is " + encoding +
                                          "; chat-engine stores UTF-8 text and needs UTF8");
  }
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

Error Connection::fail(std::string_view context, std::string message, Errc code) {
  return make_error(code, "postgres: " + std::string(context) + ": " + std::move(message));
}

bool Connection::alive() {
  if (broken()) return false;
  // An idle session that does not LISTEN is sent nothing, except its goodbye: a FATAL message
  // (the server was stopped, or pg_terminate_backend), then EOF, which may not have arrived yet.
  // So anything readable means it is ending. (A rare ParameterStatus after a configuration
  // reload is read the same way: it costs one reconnection.)
  pollfd descriptor{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
  if (::poll(&descriptor, 1, 0) != 0) broken_ = true;
  return !broken();
}

bool Connection::in_transaction() const {
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

Status Connection::flush(std::string_view context, Clock::time_point deadline) {
  for (;;) {
    const int rc = PQflush(conn_);
    if (rc == 0) return Ok{};
    if (rc < 0) {
      broken_ = true;
      return fail(context, "connection lost: " + one_line(PQerrorMessage(conn_)));
    }
    const short ready = wait_socket(PQsocket(conn_), POLLIN | POLLOUT, deadline);
    if (ready == 0) {
      broken_ = timed_out_ = true;
      return fail(context, "the server took no data for " +
                               std::to_string(options_.statement_timeout.count()) + " ms");
    }
    // Read while writing, or a server blocked on sending us results never reads the rest.
    if ((ready & POLLIN) != 0 && PQconsumeInput(conn_) == 0) {
      broken_ = true;
      return fail(context, "connection lost: " + one_line(PQerrorMessage(conn_)));
    }
  }
}

Status Connection::wait_for_result(std::string_view context, Clock::time_point deadline) {
  while (PQisBusy(conn_) != 0) {
    if (PQstatus(conn_) != CONNECTION_OK) break;
    if (wait_socket(PQsocket(conn_), POLLIN, deadline) == 0) {
      broken_ = timed_out_ = true;
      return fail(context, "no answer within the deadline (statement_timeout " +
                               std::to_string(options_.statement_timeout.count()) + " ms)");
    }
    if (PQconsumeInput(conn_) == 0) break;
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return fail(context, "connection lost: " + one_line(PQerrorMessage(conn_)));
  }
  return Ok{};
}

Result<std::vector<Rows>> Connection::round_trip(std::string_view context,
                                                 std::span<Statement> statements) {
  return round_trip(context, statements,
                    Clock::now() + options_.statement_timeout + std::chrono::seconds(1));
}

Result<std::vector<Rows>> Connection::round_trip(std::string_view context,
                                                 std::span<Statement> statements,
                                                 Clock::time_point deadline) {
  completed_ = 0;
  sqlstate_.clear();
  if (statements.empty()) return std::vector<Rows>{};
  if (broken()) return fail(context, "connection lost: " + one_line(PQerrorMessage(conn_)));
  for (const Statement& statement : statements) {
    for (std::size_t i = 0; i < statement.params.size(); ++i) {
      if (!storable(statement.params[i])) {
        return fail(context, "text that is not valid UTF-8 or contains a NUL byte",
                    Errc::bad_request);
      }
    }
  }

  // What the server will answer, in order: a Prepare (for SQL new to this connection) answers
  // separately from the statement that uses it.
  struct Expected {
    std::size_t statement;
    const std::string* prepared_name;  // set for a Prepare
    std::string_view sql;
  };
  std::vector<Expected> expected;
  expected.reserve(statements.size() + 4);
  std::unordered_map<std::string_view, std::string> preparing;  // SQL new in this round -> name
  std::vector<const char*> values;
  bool sent = true;
  for (std::size_t i = 0; sent && i < statements.size(); ++i) {
    const Statement& statement = statements[i];
    values.clear();
    for (std::size_t p = 0; p < statement.params.size(); ++p) {
      values.push_back(statement.params[p].c_str());
    }
    const int count = static_cast<int>(values.size());
    const std::string sql(statement.sql);  // NUL-terminated
    if (!statement.prepare) {
      sent = PQsendQueryParams(conn_, sql.c_str(), count, nullptr, values.data(), nullptr, nullptr,
                               0) != 0;
      expected.push_back({i, nullptr, {}});
      continue;
    }
    const std::string* name = nullptr;
    if (auto it = prepared_.find(statement.sql); it != prepared_.end()) {
      name = &it->second;
    } else if (auto it = preparing.find(statement.sql); it != preparing.end()) {
      name = &it->second;
    } else {
      name =
          &preparing.emplace(statement.sql, "chat_" + std::to_string(next_name_++)).first->second;
      sent = PQsendPrepare(conn_, name->c_str(), sql.c_str(), count, nullptr) != 0;
      expected.push_back({i, name, statement.sql});
    }
    sent = sent && PQsendQueryPrepared(conn_, name->c_str(), count, values.data(), nullptr, nullptr,
                                       0) != 0;
    expected.push_back({i, nullptr, {}});
  }
  if (!sent || PQpipelineSync(conn_) == 0) {
    broken_ = true;
    return fail(context, "cannot send: " + one_line(PQerrorMessage(conn_)));
  }
  if (Status s = flush(context, deadline); !s.ok()) return s.error();

  std::vector<Rows> rows;
  rows.reserve(statements.size());
  std::optional<Error> failure;
  for (const Expected& item : expected) {
    for (;;) {
      if (Status s = wait_for_result(context, deadline); !s.ok()) return s.error();
      PGresult* result = PQgetResult(conn_);
      if (result == nullptr) break;
      switch (PQresultStatus(result)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
          if (item.prepared_name != nullptr) {
            prepared_.emplace(std::string(item.sql), *item.prepared_name);
            PQclear(result);
          } else {
            rows.emplace_back(result);
            if (!failure) completed_ = rows.size();
          }
          break;
        case PGRES_FATAL_ERROR: {
          if (!failure) {
            const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
            const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
            sqlstate_ = state == nullptr ? "" : state;
            failure =
                fail(context, one_line(primary != nullptr ? primary : PQresultErrorMessage(result)),
                     errc_of_sqlstate(sqlstate_));
          }
          PQclear(result);
          // A FATAL-level error (the server terminated us) also ends the connection.
          if (PQstatus(conn_) != CONNECTION_OK) {
            broken_ = true;
            return *failure;
          }
          break;
        }
        default:  // PGRES_PIPELINE_ABORTED: skipped after an earlier failure
          PQclear(result);
          break;
      }
    }
  }
  if (Status s = wait_for_result(context, deadline); !s.ok()) return s.error();
  PGresult* sync = PQgetResult(conn_);
  const bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced) {
    broken_ = true;
    return fail(context, "out of step with the server (no Sync answer)");
  }
  if (failure) return *failure;
  if (rows.size() != statements.size()) {
    broken_ = true;
    return fail(context, "out of step with the server (missing results)");
  }
  return rows;
}

}  // namespace chat::store::postgres
