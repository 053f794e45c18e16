#include "server/rest_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <ranges>

#include "base/clock.h"
#include "base/log.h"
#include "protocol/server_event.h"
#include "protocol/validation.h"
#include "server/authenticate.h"

namespace chat::server {
namespace http = boost::beast::http;
namespace json = boost::json;
namespace {

constexpr std::string_view kUserPrefix = "/api/user/v1/";
constexpr int kDefaultListLimit = 100;
constexpr int kDefaultHistoryLimit = 50;
constexpr int kMaxPageLimit = 1000;
constexpr std::size_t kMaxPresenceUsers = 100;

// `allow`: the methods the path accepts, for the Allow header RFC 9110 §15.5.6 asks of a 405.
Response method_not_allowed(std::string_view allow) {
  Response res = error_response(http::status::method_not_allowed, "method_not_allowed",
                                "this path does not accept that method");
  res.set(http::field::allow, allow);
  return res;
}

// An optional integer query parameter within [min, max]; nullopt when absent.
Result<std::optional<uint64_t>> int_param(const boost::urls::params_view& params,
                                          std::string_view name, uint64_t min, uint64_t max) {
  auto it = params.find(name);
  if (it == params.end()) return std::optional<uint64_t>{};
  const std::string value = (*it).value;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < min || n > max)
    return make_error(Errc::bad_request, std::string("\"") + std::string(name) +
                                             "\" must be an integer from " + std::to_string(min) +
                                             " to " + std::to_string(max));
  return std::optional<uint64_t>{n};
}

std::optional<std::string> string_param(const boost::urls::params_view& params,
                                        std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return std::string((*it).value);
}

}  // namespace

void RestApi::handle(const Request& req, Respond respond) {
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) {
    respond(error_response(Errc::bad_request, "malformed request target"));
    return;
  }
  const std::string path = url->path();
  const auto method = req.method();

  if (path == "/healthz") {
    if (method != http::verb::get) return respond(method_not_allowed("GET"));
    return respond(json_response(http::status::ok, R"({"status":"ok"})"));
  }
  if (path == "/readyz") {
    if (method != http::verb::get) return respond(method_not_allowed("GET"));
    if (ctx_.draining.load())
      return respond(error_response(Errc::unavailable, "the server is shutting down"));
    return respond(json_response(http::status::ok, R"({"status":"ready"})"));
  }
  if (path == "/metrics") {
    if (method != http::verb::get) return respond(method_not_allowed("GET"));
    return respond(metrics());
  }
  if (path == "/api/message/v1/history") {
    if (method != http::verb::get) return respond(method_not_allowed("GET"));
    return history(req, url->params(), std::move(respond));
  }
  if (path == "/api/message/v1/conversations") {
    if (method != http::verb::get) return respond(method_not_allowed("GET"));
    return conversations(req, url->params(), std::move(respond));
  }
  if (path == "/api/message/v1/presence") {
    if (method != http::verb::get) return respond(method_not_allowed("GET"));
    return presence(req, url->params(), std::move(respond));
  }
  if (path.starts_with(kUserPrefix)) {
    if (!ctx_.options.api_key.empty() && !secrets_equal(req["X-API-Key"], ctx_.options.api_key)) {
      return respond(error_response(Errc::unauthorized, "a valid X-API-Key header is required"));
    }
    const std::string_view rest = std::string_view(path).substr(kUserPrefix.size());
    if (rest == "create") {
      if (method != http::verb::post && method != http::verb::get)
        return respond(method_not_allowed("GET, POST"));
      return create_user(req, std::move(respond));
    }
    if (rest == "list") {
      if (method != http::verb::get) return respond(method_not_allowed("GET"));
      return list_users(url->params(), std::move(respond));
    }
    if (!rest.empty() && rest.find('/') == std::string_view::npos) {
      if (method == http::verb::get) return get_user(rest, std::move(respond));
      if (method == http::verb::delete_) return delete_user(rest, std::move(respond));
      return respond(method_not_allowed("GET, DELETE"));
    }
  }
  if (path == "/ws") {
    return respond(error_response(http::status::upgrade_required, "bad_request",
                                  "/ws accepts WebSocket upgrade requests only"));
  }
  if (dev_login_key_ && path == "/api/dev/v1") {
    if (method != http::verb::get) return respond(method_not_allowed("GET"));
    return respond(json_response(http::status::ok, R"({"dev_login":true})"));
  }
  if (dev_login_key_ && path == "/api/dev/v1/token") {
    if (method != http::verb::post) return respond(method_not_allowed("POST"));
    return dev_token(req, std::move(respond));
  }
  if (auto file = web_file(path)) {
    if (method != http::verb::get && method != http::verb::head)
      return respond(method_not_allowed("GET, HEAD"));
    return respond(std::move(*file));
  }
  respond(error_response(Errc::not_found, "no such path"));
}

void RestApi::create_user(const Request& req, Respond respond) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body(), ec);
  if (ec || !body.is_object())
    return respond(error_response(Errc::bad_request, "the body must be a JSON object"));
  const json::value* name = body.as_object().if_contains("username");
  if (!name || !name->is_string())
    return respond(error_response(Errc::bad_request, "\"username\" must be a string"));
  std::string username(name->as_string());
  if (!protocol::is_valid_username(username))
    return respond(error_response(Errc::bad_request,
                                  "\"username\" must be 1-64 characters of [A-Za-z0-9_.-]"));
  // These names are paths of the user API itself; such a user could never be fetched or deleted.
  if (username == "create" || username == "list")
    return respond(error_response(Errc::bad_request, "\"" + username + "\" is a reserved name"));
  ctx_.store.create_user(
      std::move(username), unix_ms(), [respond = std::move(respond)](Result<store::User> user) {
        if (!user) return respond(error_response(user.error().code, user.error().message));
        respond(json_response(http::status::created, protocol::encode_user({*user, 0})));
      });
}

Result<std::vector<protocol::UserView>> RestApi::with_connections(
    const std::vector<store::User>& users) {
  std::vector<std::string> names;
  names.reserve(users.size());
  for (const auto& u : users) names.push_back(u.username);
  auto counts = ctx_.presence.connection_counts(names);
  if (!counts) return counts.error();
  std::vector<protocol::UserView> views;
  views.reserve(users.size());
  for (std::size_t i = 0; i < users.size(); ++i) views.push_back({users[i], counts->at(i)});
  return views;
}

void RestApi::get_user(std::string_view username, Respond respond) {
  auto user = ctx_.store.get_user(username);
  if (!user) return respond(error_response(user.error().code, user.error().message));
  std::vector<store::User> one{std::move(user).value()};
  auto views = with_connections(one);
  if (!views) return respond(error_response(views.error().code, views.error().message));
  respond(json_response(http::status::ok, protocol::encode_user(views->at(0))));
}

void RestApi::list_users(const boost::urls::params_view& params, Respond respond) {
  auto limit = int_param(params, "limit", 1, kMaxPageLimit);
  if (!limit) return respond(error_response(limit.error().code, limit.error().message));
  const std::string after = string_param(params, "after").value_or("");
  auto page = ctx_.store.list_users(after, static_cast<int>(limit->value_or(kDefaultListLimit)));
  if (!page) return respond(error_response(page.error().code, page.error().message));
  auto views = with_connections(page->users);
  if (!views) return respond(error_response(views.error().code, views.error().message));
  respond(json_response(http::status::ok, protocol::encode_user_page(*views, page->next)));
}

void RestApi::delete_user(std::string_view username, Respond respond) {
  ctx_.store.delete_user(std::string(username), [this, username = std::string(username),
                                                 respond = std::move(respond)](Result<Ok> done) {
    if (!done) return respond(error_response(done.error().code, done.error().message));
    log::info("user deleted: ", username);
    // Every live instance is told (deletions are rare); an instance that registers a connection of
    // the user after the delete committed finds no user and refuses it.
    auto nodes = ctx_.presence.live_nodes();
    if (!nodes)
      log::warn("listing instances to close ", username, "'s connections: ", nodes.error().message);
    ctx_.bus.publish(bus::UserDeleted{username}, nodes ? *nodes : bus::Nodes{});
    Response res{http::status::no_content, 11};
    res.set(http::field::server, "chat-engine");
    respond(std::move(res));
  });
}

void RestApi::history(const Request& req, const boost::urls::params_view& params, Respond respond) {
  auto claims = authenticate(ctx_, bearer_token(req, false));
  if (!claims) return respond(error_response(claims.error().code, claims.error().message));
  const auto with = string_param(params, "with");
  if (!with || !protocol::is_valid_username(*with))
    return respond(error_response(Errc::bad_request,
                                  "\"with\" must be a username of 1-64 characters [A-Za-z0-9_.-]"));
  auto before = int_param(params, "before", 1, UINT64_MAX);
  if (!before) return respond(error_response(before.error().code, before.error().message));
  auto limit = int_param(params, "limit", 1, kMaxPageLimit);
  if (!limit) return respond(error_response(limit.error().code, limit.error().message));
  const int n = static_cast<int>(limit->value_or(kDefaultHistoryLimit));
  auto entries = ctx_.store.history(claims->username, *with, before->value_or(0), n + 1);
  if (!entries) return respond(error_response(entries.error().code, entries.error().message));
  std::optional<uint64_t> next_before;
  if (entries->size() > static_cast<std::size_t>(n)) {
    entries->resize(n);
    next_before = entries->back().seq;
  }
  respond(json_response(http::status::ok, protocol::encode_history(*entries, next_before)));
}

void RestApi::conversations(const Request& req, const boost::urls::params_view& params,
                            Respond respond) {
  auto claims = authenticate(ctx_, bearer_token(req, false));
  if (!claims) return respond(error_response(claims.error().code, claims.error().message));
  auto before = int_param(params, "before", 1, UINT64_MAX);
  if (!before) return respond(error_response(before.error().code, before.error().message));
  auto limit = int_param(params, "limit", 1, kMaxPageLimit);
  if (!limit) return respond(error_response(limit.error().code, limit.error().message));
  const int n = static_cast<int>(limit->value_or(kDefaultHistoryLimit));
  auto page = ctx_.store.conversations(claims->username, before->value_or(0), n + 1);
  if (!page) return respond(error_response(page.error().code, page.error().message));
  std::optional<uint64_t> next_before;
  if (page->size() > static_cast<std::size_t>(n)) {
    page->resize(n);
    next_before = page->back().last.seq;
  }
  respond(json_response(http::status::ok, protocol::encode_conversations(*page, next_before)));
}

void RestApi::presence(const Request& req, const boost::urls::params_view& params,
                       Respond respond) {
  auto claims = authenticate(ctx_, bearer_token(req, false));
  if (!claims) return respond(error_response(claims.error().code, claims.error().message));
  const std::optional<std::string> list = string_param(params, "users");
  std::vector<std::string> names;
  if (list && !list->empty()) {
    for (auto part : std::views::split(std::string_view(*list), ',')) {
      names.emplace_back(part.begin(), part.end());
    }
  }
  const auto invalid = std::find_if_not(names.begin(), names.end(), protocol::is_valid_username);
  if (names.empty() || names.size() > kMaxPresenceUsers || invalid != names.end()) {
    return respond(error_response(
        Errc::bad_request, "\"users\" must be 1-" + std::to_string(kMaxPresenceUsers) +
                               " comma-separated usernames of 1-64 characters [A-Za-z0-9_.-]"));
  }
  auto users = ctx_.store.find_users(names);
  if (!users) return respond(error_response(users.error().code, users.error().message));
  auto views = with_connections(*users);
  if (!views) return respond(error_response(views.error().code, views.error().message));
  respond(json_response(http::status::ok, protocol::encode_presence(*views)));
}

void RestApi::dev_token(const Request& req, Respond respond) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body(), ec);
  const json::value* name =
      !ec && body.is_object() ? body.as_object().if_contains("username") : nullptr;
  if (!name || !name->is_string() || !protocol::is_valid_username(name->as_string()) ||
      name->as_string() == "create" || name->as_string() == "list") {
    return respond(error_response(
        Errc::bad_request, "the body must be {\"username\": a name of 1-64 characters [A-Za-z0-9_.-]}"));
  }
  std::string username(name->as_string());
  auto mint = [key = *dev_login_key_, respond](const std::string& user) {
    const int64_t now = unix_ms() / 1000;
    const int64_t exp = now + 3600;
    respond(json_response(http::status::ok,
                          json::serialize(json::object{
                              {"username", user},
                              {"token", auth::mint_hs256(user, now, exp, key)},
                              {"exp", exp}})));
  };
  if (ctx_.store.get_user(username).ok()) return mint(username);
  ctx_.store.create_user(username, unix_ms(),
                         [username, mint, respond](Result<store::User> user) {
                           // conflict: created meanwhile by another request, which is as good
                           if (!user && user.error().code != Errc::conflict)
                             return respond(error_response(user.error().code, user.error().message));
                           log::info("development login created user ", username);
                           mint(username);
                         });
}

std::optional<Response> RestApi::web_file(std::string_view path) const {
  const StaticFiles::File* file = web_.find(path);
  if (file == nullptr) return std::nullopt;
  Response res{http::status::ok, 11};
  res.set(http::field::server, "chat-engine");
  res.set(http::field::content_type, file->content_type);
  // Read once at start-up: a browser asks again after a restart that may bring a new build.
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy",
          "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
          "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
  res.body() = file->body;
  res.prepare_payload();
  return res;
}

Response RestApi::metrics() const {
  Response res{http::status::ok, 11};
  res.set(http::field::server, "chat-engine");
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = ctx_.metrics.render(ctx_.bus.stats());
  res.prepare_payload();
  return res;
}

}  // namespace chat::server
