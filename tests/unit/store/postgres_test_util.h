#pragma once
// Helpers for the tests that need a real PostgreSQL: a throwaway schema per test on the database of
// CHAT_TEST_DATABASE_URL, with a plain libpq connection of the test's own to look and poke at it.
//
// Without CHAT_TEST_DATABASE_URL these tests are skipped, unless CHAT_REQUIRE_SERVICES=1 (make
// test sets it): then they fail.
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace chat::store::testing {

inline constexpr const char* kNoTestDatabase =
    "CHAT_TEST_DATABASE_URL is not set; set it to run the PostgreSQL tests "
    "(scripts/dev-services start postgres; "
    "CHAT_TEST_DATABASE_URL=postgresql://chat:chat@127.0.0.1:5432/chat)";

// The test database's URL, or null when none is configured.
inline const char* test_database_url() {
  const char* url = std::getenv("CHAT_TEST_DATABASE_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

// Whether a missing service must fail the test rather than skip it.
inline bool services_required() {
  const char* required = std::getenv("CHAT_REQUIRE_SERVICES");
  return required != nullptr && std::string_view(required) == "1";
}

// A schema of its own for one test, dropped (with everything in it) on destruction. The stores
// under test reach it through url(), which selects it as their search_path. Owned by the test's
// fixture, which destroys it after the stores; exec() from one thread at a time.
class TestSchema {
 public:
  explicit TestSchema(std::string base_url) {
    PQconninfoOption* options = PQconninfoParse(base_url.c_str(), nullptr);
    if (options == nullptr) throw std::runtime_error("CHAT_TEST_DATABASE_URL cannot be parsed");
    for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (option->val != nullptr && *option->val != '\0') params_[option->keyword] = option->val;
    }
    PQconninfoFree(options);

    static std::atomic<int> counter{0};
    std::random_device random;
    name_ = "chat_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 1'000'000);
    conn_ = PQconnectdb(conninfo({}).c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string message = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error("cannot connect to the test database: " + message);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // "drop cascades to..."
    exec("CREATE SCHEMA " + name_);
  }
  ~TestSchema() {
    // Leave no connection of a store behind on the schema (a test may have leaked one on purpose).
    PQclear(PQexec(conn_, ("DROP SCHEMA " + name_ + " CASCADE").c_str()));
    PQfinish(conn_);
  }
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  const std::string& name() const { return name_; }

  // The conninfo a store under test uses: this schema as its search_path, and the schema's name as
  // its application_name (so that the test can find its connections in pg_stat_activity).
  std::string url() const {
    return conninfo({{"options", "-csearch_path=" + name_}, {"application_name", name_}});
  }
  // The same, through another host and port (a proxy).
  std::string url_via(const std::string& host, int port) const {
    return conninfo({{"options", "-csearch_path=" + name_},
                     {"application_name", name_},
                     {"host", host},
                     {"hostaddr", host},
                     {"port", std::to_string(port)}});
  }

  // Host and port of the test database, for a proxy in front of it.
  std::string host() const { return param("host", param("hostaddr", "")); }
  int port() const { return std::stoi(param("port", "5432")); }

  // Runs SQL on the test's own connection (search_path: this schema). Returns the first column of
  // the first row, or "" when there is none; throws on failure.
  std::string exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, ("SET search_path TO " + name_ + "; " + sql).c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string message = PQresultErrorMessage(result);
      PQclear(result);
      throw std::runtime_error(sql + ": " + message);
    }
    std::string first = PQntuples(result) > 0 && PQnfields(result) > 0 && !PQgetisnull(result, 0, 0)
                            ? PQgetvalue(result, 0, 0)
                            : "";
    PQclear(result);
    return first;
  }

  // Ends the test connection's transaction, aborted or not (exec() would fail in an aborted one).
  void rollback() { PQclear(PQexec(conn_, "ROLLBACK")); }

  // Waits until a connection opened by the stores under test is blocked on a lock.
  bool wait_for_a_store_blocked_on_a_lock(std::chrono::milliseconds within = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      if (exec("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
               " AND application_name = '" + name_ + "'") != "0") {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  // Ends every server connection opened by the stores under test, and waits until they are gone.
  int terminate_store_connections() {
    const std::string mine = "application_name = '" + name_ + "'";
    const int ended =
        std::stoi(exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE " + mine));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (exec("SELECT count(*) FROM pg_stat_activity WHERE " + mine) != "0" &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return ended;
  }


 private:
  std::string param(const std::string& key, const std::string& otherwise) const {
    auto it = params_.find(key);
    return it == params_.end() ? otherwise : it->second;
  }

  std::string conninfo(const std::map<std::string, std::string>& overrides) const {
    std::map<std::string, std::string> all = params_;
    for (const auto& [key, value] : overrides) all[key] = value;
    std::string out;
    for (const auto& [key, value] : all) {
      out += key + "='";
      for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
      }
      out += "' ";
    }
    return out;
  }

  std::map<std::string, std::string> params_;  // of CHAT_TEST_DATABASE_URL
  std::string name_;
  PGconn* conn_ = nullptr;
};

}  // namespace chat::store::testing
