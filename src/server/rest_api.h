#pragma once
// The REST API: users, history, conversations, presence, health and metrics (docs/protocol.md).
// Stateless apart from the context it borrows; thread-safe.
#include <boost/url/params_view.hpp>

#include "protocol/server_event.h"
#include "server/context.h"
#include "server/http_types.h"

namespace chat::server {

class RestApi {
 public:
  explicit RestApi(ServerContext& ctx) : ctx_(ctx) {}

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
  Response metrics() const;

  ServerContext& ctx_;
};

}  // namespace chat::server
