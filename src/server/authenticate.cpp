#include "server/authenticate.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/url.hpp>

#include "base/clock.h"

namespace chat::server {
namespace http = boost::beast::http;

std::string bearer_token(const http::request<http::string_body>& req, bool allow_query) {
  constexpr std::string_view kScheme = "Bearer ";
  const auto header = req[http::field::authorization];
  if (header.size() > kScheme.size() &&
      boost::beast::iequals(header.substr(0, kScheme.size()), kScheme)) {
    return std::string(header.substr(kScheme.size()));
  }
  if (!allow_query) return {};
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) return {};
  auto params = url->params();
  auto it = params.find("token");
  if (it == params.end() || !(*it).has_value) return {};
  return std::string((*it).value);
}

Result<auth::Claims> authenticate(ServerContext& ctx, std::string_view token) {
  if (token.empty()) {
    ctx.metrics.auth_failure(AuthRefusal::missing);
    return make_error(Errc::unauthorized, "a bearer token is required");
  }
  auto verified = ctx.verifier.verify(token, unix_seconds());
  if (!verified.ok()) {
    ctx.metrics.auth_failure(verified.failure);
    return make_error(Errc::unauthorized, std::string("token refused: ") +
                                              std::string(auth::to_string(verified.failure)));
  }
  auto user = ctx.store.get_user(verified.claims->username);
  if (!user) {
    if (user.error().code != Errc::not_found) return user.error();
    ctx.metrics.auth_failure(AuthRefusal::unknown_user);
    return make_error(Errc::forbidden, "the token's user does not exist");
  }
  // A token minted before the user (re)appeared belongs to an earlier, deleted account.
  if (verified.claims->iat && *verified.claims->iat < user->created_at / 1000) {
    ctx.metrics.auth_failure(AuthRefusal::unknown_user);
    return make_error(Errc::forbidden, "the token predates the user's account");
  }
  return std::move(*verified.claims);
}

bool secrets_equal(std::string_view a, std::string_view b) {
  // Hash first so that the comparison's time depends on neither content nor length.
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

}  // namespace chat::server
