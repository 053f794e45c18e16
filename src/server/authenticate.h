#pragma once
// Who is calling: the one place that turns a bearer token into a user, for both the WebSocket
// upgrade and the REST API, and counts refusals by reason.
#include <boost/beast/http.hpp>
#include <string_view>

#include "auth/jwt.h"
#include "base/result.h"
#include "server/context.h"

namespace chat::server {

// The token of a request: `Authorization: Bearer <jwt>`, else (when allow_query) `?token=<jwt>`.
std::string bearer_token(const boost::beast::http::request<boost::beast::http::string_body>& req,
                         bool allow_query);

// unauthorized: no or invalid token. forbidden: a valid token for a user who does not exist, or
// who was deleted and created again after the token was issued.
Result<auth::Claims> authenticate(ServerContext& ctx, std::string_view token);

// Constant-time comparison for secrets such as the API key.
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace chat::server
