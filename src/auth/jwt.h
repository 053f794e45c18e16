#pragma once
// HS256 JSON Web Token verification. Pure: no I/O, and the current time is a parameter, so expiry
// tests pin the clock instead of sleeping.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chat::auth {

// Why a token was refused. to_string() names are a Prometheus label: keep them stable.
enum class JwtFailure {
  too_large,           // over JwtVerifier::kMaxTokenBytes
  malformed,           // not three base64url segments of JSON objects (each member named once),
                       // or a non-numeric nbf or iat
  unsupported_alg,     // header alg is anything but exactly "HS256"
  critical_extension,  // header has crit: RFC 7515 §4.1.11, this verifier understands no extension
  bad_signature,       // HMAC mismatch (checked before any claim is read)
  missing_exp,         // no numeric exp claim
  expired,             // now > exp + leeway
  not_yet_valid,       // now + leeway < nbf, or now + leeway < iat
  missing_identity,    // neither a non-empty string username nor (when username is absent) sub
};

std::string_view to_string(JwtFailure failure);

struct Claims {
  std::string username;  // the username claim, else sub
  int64_t exp = 0;
  std::optional<int64_t> iat;
};

struct VerifyResult {
  std::optional<Claims> claims;
  JwtFailure failure{};  // meaningful only when !ok()
  bool ok() const { return claims.has_value(); }
};

// Checks HS256 tokens against one shared key. Only "HS256" is accepted, so there is no algorithm
// confusion to get wrong. Immutable after construction; safe for concurrent use from many threads.
class JwtVerifier {
 public:
  static constexpr std::size_t kMaxTokenBytes = 8192;

  // leeway_seconds absorbs clock skew between minter and server; a negative value counts as 0.
  explicit JwtVerifier(std::string key, int64_t leeway_seconds = 30);

  VerifyResult verify(std::string_view token, int64_t now_unix_seconds) const;

 private:
  std::string key_;
  int64_t leeway_seconds_;
};

// Mints a token (for tests and tools): base64url header_json "."
// base64url payload_json "." base64url HMAC-SHA256. payload_json is used as is, unchecked.
std::string sign_hs256(std::string_view payload_json, std::string_view key,
                       std::string_view header_json = R"({"alg":"HS256","typ":"JWT"})");

// A token as jwt.py mints it, {"username","iat","exp"}, for the server's development login
// (docs/operations.md). `username` must be a valid username (it is written into the JSON as is).
std::string mint_hs256(std::string_view username, int64_t iat, int64_t exp, std::string_view key);

}  // namespace chat::auth
