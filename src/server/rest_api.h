#pragma once
// The REST API: users, history, health and metrics (docs/protocol.md). Stateless apart from the
// context it borrows; thread-safe.
#include <boost/url/params_view.hpp>

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
  Response metrics() const;

  ServerContext& ctx_;
};

}  // namespace chat::server
