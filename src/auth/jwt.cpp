#include "auth/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <limits>
#include <utility>

namespace chat::auth {
namespace {

namespace json = boost::json;

using Digest = std::array<unsigned char, 32>;  // SHA-256

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t n =
        uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (std::size_t rest = in.size() - i; rest > 0) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    if (rest == 2) out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict RFC 7515 base64url: no padding, no whitespace, and the unused low bits of the last
// character must be zero, so that each byte string has exactly one accepted spelling.
std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xFF);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest digest{};
  unsigned int len = 0;
  // Our own output buffer: HMAC() with a null one would use a static, which is not thread-safe.
  HMAC(EVP_sha256(), key.data(), int(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &len);
  return digest;
}

// Counts the members of the top-level object as written. json::parse keeps only the last of
// members that share a name, so comparing this count with the parsed object's size is how a name
// given twice is found.
struct TopLevelMemberCounter {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using error_code = boost::system::error_code;
  using string_view = json::string_view;

  std::size_t depth = 0;
  std::size_t members = 0;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return ++depth, true; }
  bool on_object_end(std::size_t n, error_code&) {
    if (--depth == 0) members = n;
    return true;
  }
  bool on_array_begin(error_code&) { return ++depth, true; }
  bool on_array_end(std::size_t, error_code&) { return --depth, true; }
  bool on_key_part(string_view, std::size_t, error_code&) { return true; }
  bool on_key(string_view, std::size_t, error_code&) { return true; }
  bool on_string_part(string_view, std::size_t, error_code&) { return true; }
  bool on_string(string_view, std::size_t, error_code&) { return true; }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(int64_t, string_view, error_code&) { return true; }
  bool on_uint64(uint64_t, string_view, error_code&) { return true; }
  bool on_double(double, string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
};

std::size_t top_level_members(std::string_view text) {
  json::basic_parser<TopLevelMemberCounter> parser(json::parse_options{});
  boost::system::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return ec ? 0 : parser.handler().members;
}

// A JSON object, or nullopt when the text is not one or names a member twice: RFC 7515 and
// 7519 allow either refusing such a header or payload or taking the last duplicate; two
// verifiers taking different ones would read one token two ways, so it is refused.
std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  if (top_level_members(text) != value.as_object().size()) return std::nullopt;
  return std::move(value.as_object());
}

enum class Rounding { down, up, toward_zero };

// A JSON number as whole seconds, saturated to int64. `now` is whole seconds, so rounding exp
// down and nbf up gives exactly the same decisions as comparing against the fractional value.
std::optional<int64_t> to_seconds(const json::value& v, Rounding rounding) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return v.get_uint64() > uint64_t(kMax) ? kMax : int64_t(v.get_uint64());
  if (!v.is_double()) return std::nullopt;
  double d = v.get_double();  // may be +-Infinity: Boost.JSON parses 1e400 that way
  if (std::isnan(d)) return std::nullopt;
  if (rounding == Rounding::down) {
    d = std::floor(d);
  } else if (rounding == Rounding::up) {
    d = std::ceil(d);
  } else {
    d = std::trunc(d);
  }
  if (d >= 0x1p63) return kMax;
  if (d < -0x1p63) return kMin;
  return int64_t(d);
}

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

VerifyResult fail(JwtFailure failure) { return VerifyResult{std::nullopt, failure}; }

}  // namespace

std::string_view to_string(JwtFailure failure) {
  switch (failure) {
    case JwtFailure::too_large:
      return "too_large";
    case JwtFailure::malformed:
      return "malformed";
    case JwtFailure::unsupported_alg:
      return "unsupported_alg";
    case JwtFailure::critical_extension:
      return "critical_extension";
    case JwtFailure::bad_signature:
      return "bad_signature";
    case JwtFailure::missing_exp:
      return "missing_exp";
    case JwtFailure::expired:
      return "expired";
    case JwtFailure::not_yet_valid:
      return "not_yet_valid";
    case JwtFailure::missing_identity:
      return "missing_identity";
  }
  return "malformed";
}

JwtVerifier::JwtVerifier(std::string key, int64_t leeway_seconds)
    : key_(std::move(key)), leeway_seconds_(leeway_seconds < 0 ? 0 : leeway_seconds) {}

VerifyResult JwtVerifier::verify(std::string_view token, int64_t now) const {
  if (token.size() > kMaxTokenBytes) return fail(JwtFailure::too_large);

  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return fail(JwtFailure::malformed);
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(JwtFailure::malformed);
  }
  const std::string_view signing_input = token.substr(0, dot2);
  const auto header = base64url_decode(token.substr(0, dot1));
  const auto payload = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header || !payload || !signature) return fail(JwtFailure::malformed);

  const auto header_obj = parse_object(*header);
  if (!header_obj) return fail(JwtFailure::malformed);
  const json::value* alg = header_obj->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256") {
    return fail(JwtFailure::unsupported_alg);
  }
  // Key-selecting headers (kid, jku, x5u, jwk, x5c) are ignored: there is one key. But an extension
  // marked critical changes how the token must be read, and none is understood here.
  if (header_obj->contains("crit")) return fail(JwtFailure::critical_extension);

  const Digest expected = hmac_sha256(key_, signing_input);
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return fail(JwtFailure::bad_signature);
  }

  // From here on the payload is authentic.
  const auto claims = parse_object(*payload);
  if (!claims) return fail(JwtFailure::malformed);

  const json::value* exp_value = claims->if_contains("exp");
  const auto exp = exp_value ? to_seconds(*exp_value, Rounding::down) : std::nullopt;
  if (!exp) return fail(JwtFailure::missing_exp);

  std::optional<int64_t> nbf;
  if (const json::value* nbf_value = claims->if_contains("nbf")) {
    nbf = to_seconds(*nbf_value, Rounding::up);
    if (!nbf) return fail(JwtFailure::malformed);
  }

  // iat dates the account a token belongs to (a re-created user refuses older tokens), so one
  // that cannot be read, or that claims to be issued in the future, is refused rather than ignored:
  // either would let a token outlive the deletion of its account.
  std::optional<int64_t> iat;
  std::optional<int64_t> iat_up;  // rounded up for the future check, as nbf is
  if (const json::value* iat_value = claims->if_contains("iat")) {
    iat = to_seconds(*iat_value, Rounding::toward_zero);
    iat_up = to_seconds(*iat_value, Rounding::up);
    if (!iat) return fail(JwtFailure::malformed);
  }

  if (now > saturating_add(*exp, leeway_seconds_)) return fail(JwtFailure::expired);
  if (nbf && saturating_add(now, leeway_seconds_) < *nbf) return fail(JwtFailure::not_yet_valid);
  if (iat_up && saturating_add(now, leeway_seconds_) < *iat_up) {
    return fail(JwtFailure::not_yet_valid);
  }

  // username wins over sub even when it is unusable: falling back would let a token whose
  // username is broken pass as whoever its sub names.
  const json::value* identity = claims->if_contains("username");
  if (identity == nullptr) identity = claims->if_contains("sub");
  if (identity == nullptr || !identity->is_string() || identity->get_string().empty()) {
    return fail(JwtFailure::missing_identity);
  }

  Claims out;
  out.username = std::string(identity->get_string());
  out.exp = *exp;
  out.iat = iat;
  return VerifyResult{std::move(out), {}};
}

std::string sign_hs256(std::string_view payload_json, std::string_view key,
                       std::string_view header_json) {
  std::string token = base64url_encode(header_json);
  token += '.';
  token += base64url_encode(payload_json);
  const Digest mac = hmac_sha256(key, token);
  token += '.';
  token +=
      base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

std::string mint_hs256(std::string_view username, int64_t iat, int64_t exp, std::string_view key) {
  std::string payload = R"({"username":")";
  payload += username;
  payload += R"(","iat":)" + std::to_string(iat) + R"(,"exp":)" + std::to_string(exp) + "}";
  return sign_hs256(payload, key);
}

}  // namespace chat::auth
