#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace chat::auth {
namespace {

constexpr std::string_view kKey = "unit-test-key-0123456789abcdef-0123456789";
constexpr int64_t kNow = 1'700'000'000;

// Minted once, outside the repository, with PyJWT 2.15 and with ./jwt.py, using this key:
//   jwt.encode({...}, kInteropKey, algorithm="HS256"|"HS512")
//   CHAT_JWT_SECRET=<kInteropKey> python3 jwt.py dave --raw --ttl 3600
constexpr std::string_view kInteropKey = "chat-engine-interop-test-key-0123456789";
// {"username":"alice","iat":1700000000,"exp":1700003600}
constexpr std::string_view kPyJwtAlice =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ1c2VybmFtZSI6ImFsaWNlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9."
    "F0BW-C6ZRiJy7oD4FlyCVH3oeQNuJ6chzy8WiJGanwE";
// {"sub":"bob","iat":1700000000,"exp":1700003600,"nbf":1700000000}
constexpr std::string_view kPyJwtBobSubNbf =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJib2IiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMCwibmJmIjoxNzAwMDAwMDAwfQ."
    "BOjTm6CsU4udiB902QvhgXGNLK3fuvgQlMcqxLMEDn4";
// {"username":"carol","iat":1700000000.75,"exp":1700003600.5}
constexpr std::string_view kPyJwtCarolFractional =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ1c2VybmFtZSI6ImNhcm9sIiwiaWF0IjoxNzAwMDAwMDAwLjc1LCJleHAiOjE3MDAwMDM2MDAuNX0."
    "NpFaCXfIXy38dL21-7BK8oH1dxBmsV1u8Xrm_icpurI";
// HS512 over {"username":"alice","iat":1700000000,"exp":1700003600}
constexpr std::string_view kPyJwtHs512 =
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJ1c2VybmFtZSI6ImFsaWNlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9."
    "7iBGPjQCJVSnUiGSSqwWU7fYam-hajqbuiywbZoODIcfIbs5rzcxxCWT4wGpHVJudt5IsDCqrLqFF2PIPQBpew";
// By hand: {"alg":"none","typ":"JWT"} . the kPyJwtAlice payload . (empty signature)
constexpr std::string_view kHandmadeAlgNone =
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
    "eyJ1c2VybmFtZSI6ImFsaWNlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9.";
// jwt.py: {"username":"dave","iat":1795486760,"exp":1795490360}
constexpr std::string_view kJwtPyDave =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ1c2VybmFtZSI6ImRhdmUiLCJpYXQiOjE3OTU0ODY3NjAsImV4cCI6MTc5NTQ5MDM2MH0."
    "1JZ5uT73OorFNA6mKzbw_lrazuko5mCSOyn_WO6GyWM";
constexpr int64_t kJwtPyDaveIat = 1'795'486'760;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// An independent, deliberately naive base64url encoder, so the tests do not trust jwt.cpp's.
std::string b64url(std::string_view in) {
  std::string bits;
  for (unsigned char c : in) {
    for (int i = 7; i >= 0; --i) bits += ((c >> i) & 1) ? '1' : '0';
  }
  while (bits.size() % 6 != 0) bits += '0';
  std::string out;
  for (std::size_t i = 0; i < bits.size(); i += 6) {
    out += kAlphabet[std::stoi(bits.substr(i, 6), nullptr, 2)];
  }
  return out;
}

struct Parts {
  std::string header, payload, signature;
};

Parts split(const std::string& token) {
  std::size_t a = token.find('.');
  std::size_t b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

std::string join(const Parts& p) { return p.header + "." + p.payload + "." + p.signature; }

// kNow + offset as a JSON number, with an optional fraction such as ".5".
std::string at(int64_t offset, std::string_view fraction = "") {
  return std::to_string(kNow + offset) + std::string(fraction);
}

std::string sign(std::string_view payload_json) { return sign_hs256(payload_json, kKey); }

std::string claims(std::string_view extra) {
  return R"({"username":"alice","exp":)" + at(60) + std::string(extra) + "}";
}

std::string valid() { return sign(claims("")); }

// A signed token for alice with the given exp (a JSON literal).
std::string alice_with_exp(const std::string& exp) {
  return sign(R"({"username":"alice","exp":)" + exp + "}");
}

// A valid token whose signature is kept but whose header is replaced (the alg check comes first).
std::string with_header(std::string_view header_json, bool keep_signature = true) {
  Parts p = split(valid());
  p.header = b64url(header_json);
  if (!keep_signature) p.signature.clear();
  return join(p);
}

std::string with_signature(const std::string& signature) {
  Parts p = split(valid());
  p.signature = signature;
  return join(p);
}

// Replaces one base64url character by the one whose 6-bit value differs in the lowest bit.
std::string flip_low_bit(std::string s, std::size_t i) {
  s[i] = kAlphabet[kAlphabet.find(s[i]) ^ 1];
  return s;
}

// A validly signed token of exactly `size` bytes, padded through an extra claim.
std::string token_of_size(std::size_t size) {
  for (std::size_t pad = size * 3 / 4 - 200;; ++pad) {
    std::string token = sign(claims(R"(,"pad":")" + std::string(pad, 'x') + "\""));
    if (token.size() >= size) return token;
  }
}

struct Case {
  std::string name;
  std::string token;
  std::optional<JwtFailure> failure;  // nullopt: accepted
  std::string username = "alice";     // when accepted
  int64_t now = kNow;
  std::string key = std::string(kKey);
  int64_t leeway = 30;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Case accepts(std::string name, std::string token, std::string username = "alice") {
  return {std::move(name), std::move(token), std::nullopt, std::move(username)};
}

Case refuses(std::string name, std::string token, JwtFailure failure) {
  return {std::move(name), std::move(token), failure};
}

Case interop(std::string name, std::string_view token, std::optional<JwtFailure> failure,
             std::string username, int64_t now) {
  Case c{std::move(name), std::string(token), failure, std::move(username), now};
  c.key = kInteropKey;
  return c;
}

std::vector<Case> cases() {
  using F = JwtFailure;
  std::vector<Case> c = {
      accepts("AcceptsUsernameClaim", valid()),
      accepts("AcceptsSubWhenUsernameIsAbsent", sign(R"({"sub":"bob","exp":)" + at(60) + "}"),
              "bob"),
      accepts("PrefersUsernameOverSub", sign(claims(R"(,"sub":"bob")"))),
      accepts("IgnoresUnknownClaims", sign(claims(R"(,"role":"admin","x":[1,{}])"))),

      refuses("RefusesAlgNone", with_header(R"({"alg":"none","typ":"JWT"})", false),
              F::unsupported_alg),
      refuses("RefusesAlgNoneCapitalised", with_header(R"({"alg":"None"})", false),
              F::unsupported_alg),
      refuses("RefusesAlgNoneUpperCase", with_header(R"({"alg":"NONE"})", false),
              F::unsupported_alg),
      refuses("RefusesAlgNoneEvenWithAValidSignature", with_header(R"({"alg":"none"})"),
              F::unsupported_alg),
      refuses("RefusesLowerCaseHs256", with_header(R"({"alg":"hs256","typ":"JWT"})"),
              F::unsupported_alg),
      refuses("RefusesHs512", with_header(R"({"alg":"HS512","typ":"JWT"})"), F::unsupported_alg),
      refuses("RefusesRs256", with_header(R"({"alg":"RS256","typ":"JWT"})"), F::unsupported_alg),
      refuses("RefusesMissingAlg", with_header(R"({"typ":"JWT"})"), F::unsupported_alg),
      refuses("RefusesNumericAlg", with_header(R"({"alg":256})"), F::unsupported_alg),
      refuses("RefusesArrayAlg", with_header(R"({"alg":["HS256"]})"), F::unsupported_alg),
      refuses("RefusesACriticalExtension",
              with_header(R"({"alg":"HS256","crit":["x-must-understand"],"x-must-understand":1})"),
              F::critical_extension),
      refuses("RefusesAnEmptyCrit", with_header(R"({"alg":"HS256","crit":[]})"),
              F::critical_extension),
      accepts("IgnoresAKid",
              sign_hs256(claims(""), kKey, R"({"alg":"HS256","kid":"../../dev/null"})")),
      accepts("IgnoresAJkuAndX5u",
              sign_hs256(claims(""), kKey,
                         R"({"alg":"HS256","jku":"https://x.test/k","x5u":"https://x.test/c"})")),
      refuses("RefusesAlgWithTrailingSpace", with_header(R"({"alg":"HS256 "})"),
              F::unsupported_alg),

      refuses("RefusesSignatureMadeWithAnotherKey",
              sign_hs256(claims(""), "another-key-0123456789abcdef-0123456789"), F::bad_signature),
      refuses("RefusesTruncatedSignature", with_signature(split(valid()).signature.substr(0, 40)),
              F::bad_signature),
      refuses("RefusesSignatureWithAFlippedBit",
              with_signature(flip_low_bit(split(valid()).signature, 0)), F::bad_signature),
      refuses("RefusesEmptySignature", with_signature(""), F::bad_signature),
      refuses("RefusesSignatureOfAnotherPayload",
              join({split(valid()).header, split(sign(R"({"username":"mallory","exp":1})")).payload,
                    split(valid()).signature}),
              F::bad_signature),
      refuses("RefusesBadSignatureBeforeReadingExpiredClaims",
              join({split(valid()).header, split(sign(R"({"exp":1})")).payload,
                    split(valid()).signature}),
              F::bad_signature),

      refuses("RefusesEmptyToken", "", F::malformed),
      refuses("RefusesTwoSegments", split(valid()).header + "." + split(valid()).payload,
              F::malformed),
      refuses("RefusesFourSegments", valid() + ".e30", F::malformed),
      refuses("RefusesTrailingDot", valid() + ".", F::malformed),
      refuses("RefusesStandardBase64Characters",
              with_signature(split(valid()).signature.substr(0, 42) + "+"), F::malformed),
      refuses("RefusesBase64Padding", with_signature(split(valid()).signature + "="), F::malformed),
      refuses("RefusesWhitespaceInsideASegment", " " + valid(), F::malformed),
      refuses("RefusesImpossibleBase64Length",
              with_signature(split(valid()).signature.substr(0, 41)), F::malformed),
      refuses("RefusesNonZeroUnusedBase64Bits",
              with_signature(flip_low_bit(split(valid()).signature, 42)), F::malformed),
      refuses("RefusesHeaderThatIsNotJson", with_header("not json"), F::malformed),
      refuses("RefusesHeaderThatIsAJsonArray", with_header(R"(["HS256"])"), F::malformed),
      refuses("RefusesEmptyHeader", with_header(""), F::malformed),
      refuses("RefusesPayloadThatIsNotJson", sign("not json"), F::malformed),
      refuses("RefusesPayloadThatIsAJsonArray", sign(R"([{"username":"alice"}])"), F::malformed),
      refuses("RefusesPayloadThatIsJsonNull", sign("null"), F::malformed),

      refuses("RefusesMissingExp", sign(R"({"username":"alice"})"), F::missing_exp),
      refuses("RefusesStringExp", alice_with_exp("\"" + at(60) + "\""), F::missing_exp),
      refuses("RefusesNullExp", alice_with_exp("null"), F::missing_exp),
      refuses("RefusesExpJustBeyondLeeway", alice_with_exp(at(-31)), F::expired),
      refuses("RefusesExpAnHourAgo", alice_with_exp(at(-3600)), F::expired),
      accepts("AcceptsExpAtTheEdgeOfLeeway", alice_with_exp(at(-30))),
      accepts("AcceptsFractionalExpWithinLeeway", alice_with_exp(at(-30, ".5"))),
      refuses("RefusesFractionalExpJustBeyondLeeway", alice_with_exp(at(-31, ".5")), F::expired),
      accepts("AcceptsExpTooLargeForInt64", alice_with_exp("1e400")),

      refuses("RefusesNbfBeyondLeeway", sign(claims(",\"nbf\":" + at(31))), F::not_yet_valid),
      refuses("RefusesFractionalNbfJustBeyondLeeway", sign(claims(",\"nbf\":" + at(30, ".5"))),
              F::not_yet_valid),
      accepts("AcceptsNbfWithinLeeway", sign(claims(",\"nbf\":" + at(30)))),
      accepts("AcceptsNbfInThePast", sign(claims(",\"nbf\":" + at(-100)))),
      refuses("RefusesStringNbf", sign(claims(R"(,"nbf":"0")")), F::malformed),

      refuses("RefusesNumericUsername", sign(R"({"username":42,"exp":)" + at(60) + "}"),
              F::missing_identity),
      refuses("RefusesNumericUsernameEvenWithAValidSub",
              sign(R"({"username":42,"sub":"bob","exp":)" + at(60) + "}"), F::missing_identity),
      refuses("RefusesEmptyUsernameEvenWithASub",
              sign(R"({"username":"","sub":"bob","exp":)" + at(60) + "}"), F::missing_identity),
      refuses("RefusesEmptySub", sign(R"({"sub":"","exp":)" + at(60) + "}"), F::missing_identity),
      refuses("RefusesNoIdentityAtAll", sign(R"({"exp":)" + at(60) + "}"), F::missing_identity),

      accepts("AcceptsExactly8192Bytes", token_of_size(8192)),
      refuses("RefusesExactly8193Bytes", token_of_size(8193), F::too_large),

      interop("InteropPyJwtHs256", kPyJwtAlice, std::nullopt, "alice", kNow),
      interop("InteropPyJwtSubAndNbf", kPyJwtBobSubNbf, std::nullopt, "bob", kNow),
      interop("InteropPyJwtFractionalTimes", kPyJwtCarolFractional, std::nullopt, "carol", kNow),
      interop("InteropPyJwtExpiredAnHourLater", kPyJwtAlice, JwtFailure::expired, "",
              kNow + 3600 + 31),
      interop("InteropJwtPy", kJwtPyDave, std::nullopt, "dave", kJwtPyDaveIat + 10),
      interop("InteropPyJwtHs512IsRefused", kPyJwtHs512, JwtFailure::unsupported_alg, "", kNow),
      interop("InteropHandmadeAlgNoneIsRefused", kHandmadeAlgNone, JwtFailure::unsupported_alg, "",
              kNow),
  };

  Case no_leeway_edge = accepts("AcceptsExpEqualToNowWithoutLeeway", alice_with_exp(at(0)));
  no_leeway_edge.leeway = 0;
  c.push_back(no_leeway_edge);
  Case no_leeway =
      refuses("RefusesExpOneSecondAgoWithoutLeeway", alice_with_exp(at(-1)), F::expired);
  no_leeway.leeway = 0;
  c.push_back(no_leeway);
  Case wrong_key = interop("InteropPyJwtWithTheWrongKey", kPyJwtAlice, F::bad_signature, "", kNow);
  wrong_key.key = kKey;
  c.push_back(wrong_key);
  return c;
}

class JwtVerifyTest : public testing::TestWithParam<Case> {};

TEST_P(JwtVerifyTest, Verify) {
  const Case& c = GetParam();
  const VerifyResult result = JwtVerifier(c.key, c.leeway).verify(c.token, c.now);
  if (c.failure) {
    ASSERT_FALSE(result.ok()) << "accepted as " << result.claims->username;
    EXPECT_EQ(to_string(result.failure), to_string(*c.failure));
  } else {
    ASSERT_TRUE(result.ok()) << "refused: " << to_string(result.failure);
    EXPECT_EQ(result.claims->username, c.username);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokens, JwtVerifyTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(JwtClaimsTest, ReportsIntegerTimes) {
  const VerifyResult r = JwtVerifier(std::string(kInteropKey)).verify(kPyJwtAlice, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.claims->exp, 1'700'003'600);
  EXPECT_EQ(r.claims->iat, 1'700'000'000);
}

TEST(JwtClaimsTest, TruncatesFractionalTimes) {
  const VerifyResult r = JwtVerifier(std::string(kInteropKey)).verify(kPyJwtCarolFractional, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.claims->exp, 1'700'003'600);
  EXPECT_EQ(r.claims->iat, 1'700'000'000);
}

// A non-numeric or future iat is refused: see jwt_hostile_test.cpp.

TEST(JwtClaimsTest, SaturatesHugeExp) {
  const VerifyResult r = JwtVerifier(std::string(kKey))
                             .verify(sign(R"({"username":"a","exp":18446744073709551615})"), kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.claims->exp, std::numeric_limits<int64_t>::max());
}

TEST(JwtSignTest, MatchesPyJwtByteForByte) {
  EXPECT_EQ(sign_hs256(R"({"username":"alice","iat":1700000000,"exp":1700003600})", kInteropKey),
            kPyJwtAlice);
}

TEST(JwtSignTest, MatchesJwtPyByteForByte) {
  EXPECT_EQ(sign_hs256(R"({"username":"dave","iat":1795486760,"exp":1795490360})", kInteropKey),
            kJwtPyDave);
}

TEST(JwtSizeTest, SizeRowsAreExact) {
  EXPECT_EQ(token_of_size(8192).size(), 8192u);
  EXPECT_EQ(token_of_size(8193).size(), 8193u);
}

TEST(JwtFailureTest, NamesAreStableMetricLabels) {
  using F = JwtFailure;
  const std::vector<std::pair<F, std::string_view>> names = {
      {F::too_large, "too_large"},
      {F::malformed, "malformed"},
      {F::unsupported_alg, "unsupported_alg"},
      {F::bad_signature, "bad_signature"},
      {F::missing_exp, "missing_exp"},
      {F::expired, "expired"},
      {F::not_yet_valid, "not_yet_valid"},
      {F::missing_identity, "missing_identity"},
      {F::critical_extension, "critical_extension"},
  };
  for (const auto& [failure, name] : names) EXPECT_EQ(to_string(failure), name);
}

}  // namespace
}  // namespace chat::auth
