#pragma once
// The REST API: users, history, conversations, presence, health and metrics (docs/protocol.md).
// Stateless apart from the context it borrows; thread-safe.
#include <boost/url/params_view.hpp>

#include "protocol/server_event.h"
#include "server/context.h"
#include "server/http_types.h"
#include "server/static_files.h"

#include <optional>
#include <string>

namespace chat::server {

class RestApi {
 public:
  // `web`: the files served at / (none: / is 404). `dev_login_key`: the JWT key, given only when
  // the development login is on (--dev-login).
  explicit RestApi(ServerContext& ctx, StaticFiles web = {},
                   std::optional<std::string> dev_login_key = std::nullopt)
      : ctx_(ctx), web_(std::move(web)), dev_login_key_(std::move(dev_login_key)) {}

  // Answers `req` through `respond`, at once or (for writes) once the store has committed.
  void handle(const Request& req, Respond respond);

 private:
  void create_user(const Request& req, Respond respond);
  void get_user(std::string_view username, Respond respond);
  void list_users(const boost::urls::params_view& params, Respond respond);
  void delete_user(std::string_view username, Respond respond);
  void history(const Request& req, const boost::urls::params_view& params, Respond respond);
  void conversations(const Request& req, const boost::urls::params_view& params, Respond respond);
  void presence(const Request& req, const boost::urls::params_view& params, Respond respond);
  // Each user with its connection count across the live instances.
  Result<std::vector<protocol::UserView>> with_connections(const std::vector<store::User>& users);
  void dev_token(const Request& req, Respond respond);
  Response metrics() const;
  // The web client's file for a GET or HEAD of `path`, if there is one.
  std::optional<Response> web_file(std::string_view path) const;

  ServerContext& ctx_;
  const StaticFiles web_;
  const std::optional<std::string> dev_login_key_;
};

}  // namespace chat::server
