// Hostile tokens, one row each: every way a token can try to pass as something it is not.
// jwt_test.cpp holds the ordinary rules and interop; this table holds the attacks (alg "none" in
// every spelling, other algorithms with real keys, key confusion, key-selecting headers, encoding
// tricks, duplicate members, claims of every wrong type and extreme value, oversized input).
// Tokens are built here with OpenSSL directly (base64, HMAC, RSA, EC, Ed25519), not with jwt.cpp.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "auth/jwt.h"

namespace chat::auth {
namespace {

constexpr std::string_view kKey = "hostile-test-key-0123456789abcdef-0123456789";
constexpr std::string_view kAttackerKey = "attacker-key-0123456789abcdef-0123456789";
constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// ---- encoding and signing, with OpenSSL only -----------------------------------------------

std::string b64url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
  out.resize(std::size_t(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Key generation and signing run while the table is built, outside any test: a failure stops
// the program with a message.
void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "jwt_hostile_test: OpenSSL failed: %s\n", what);
  std::abort();
}

// A signature over data with a real private key; md is null for Ed25519. ECDSA's DER signature
// is turned into JWS's fixed-size r || s.
std::string sign_with(EVP_PKEY* key, const EVP_MD* md, std::string_view data, bool pss = false) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  require(EVP_DigestSignInit(ctx, &pctx, md, nullptr, key) == 1, "EVP_DigestSignInit");
  if (pss) EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  require(EVP_DigestSign(ctx, nullptr, &len, in, data.size()) == 1, "EVP_DigestSign (size)");
  std::string sig(len, '\0');
  require(
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) == 1,
      "EVP_DigestSign");
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return sig;
  const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &der, long(sig.size()));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(ecdsa);
  return raw;
}

std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, std::size_t(n));
  BIO_free(bio);
  return pem;
}

std::string public_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  std::string out(reinterpret_cast<const char*>(der), std::size_t(n));
  OPENSSL_free(der);
  return out;
}

std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(std::size_t(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

// An attacker's RSA-2048 key, made with `openssl genpkey -algorithm RSA`. Fixed because making
// one takes a good part of a second, and every test of this table runs in a process of its own.
constexpr std::string_view kRsaPrivateKeyPem = R"(-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCwkEhoBeCzo0Y7
L9Pcp5r4aBZnLKh00dyj+Oz7+890AyUQC1UY2GGeNnp107DpJZECSyQbxlY47FaN
7VsV/6JkiY3ulUoPqxqC0sKVuEGGiP9ugOgaq4bcs9LZ2KPZVwfafUgtpZoKunVt
vEFl+WyP5n7d3WY7gtbiomp2wmI3LfiUWXaG1qWcfeTiUaLJFzZE2Vaj27RlfrV6
XC9SD0nVYjVTKqaNIK4oVXGrtxt1N6U5WsRyYTt/mlczQi8cGeqWs3pmnUVdyZO3
c4f5gkLQ4hF9x88oZCNj7rZV/DsafTEmEGSsN4idsFYEaRPmj2N0PLTyokPryKBH
rKEUffmxAgMBAAECggEAILUxvJduJ0j1TyyOfj9MPX0mvUkwEaf4zCVmXU2qAg89
E+pNgtM+zizAZchn6uDLKpYZ481LlrLtW9BfAcW/4wj6Unq0ZA+p0xdQ9aRS+yWw
z9swZBRnYMYtJq7zt2TgbxCrSM13KkqdS01G/imE+2lTEi2b7SVRQl2dBFABGsBq
GYzhe+G+OApD4E1/J3EpB5JYrldEB+koUkqRNIU22er7EY4kDISISp4sxuapXoZP
7M0BzGMAgNYo1HnXGGThBKSuoDkm6QCYNHTzrL5Lf61/+qAqciRIJdfb8KXPijXt
KQUi6JzqcntOF6UXO9KDzJmPovaJoNvOU0uAw0944wKBgQDVfaH6JI40bmDayJeY
+py5brm8pqkuB3V107FT8R5CZC2sl9oC3eo96AiddaK/Mm3He/nvcT/jXhjlSlWE
vrnlkT9WV7XvV8mMgJeyfTWLvW48EggDRRWAKTKjDLP6uiMoKess4Lk8kJjqLi4t
mB6rN3G3xNGTOnQSUZ+lGlAIHwKBgQDTuFhCPjhqDrdPRe00mlCEAu9MNS7ZFfK5
McQ5WTxyjEtW4fDiNoMaLwU+IHpOwvrRxVRLR9D0WmzRo7RiXuTS62BFkQsYiDgn
6xTOhdzuR+ewme+edhMYC7OCHdFaAanpzJmIRByMsZz4frpeqLze7b4nI/bSt8YJ
tG7t+tQELwKBgC+v+3FznuwpR6s3KV27hSyKhiSUma+1bNBf8/lLH7Y2yFkIJmOD
jGI9pUb+0tagfhMUJ1UL1/iCuU7mVsnrDH0x/5LazsHiuxuOUdRF0aMgMjJq2K1a
Th4tlakEGmPEFjxPeL+yhs33gqC0pg37L8aRAO7KoQGhCfJZly56/SuDAoGAJImV
wajXN4ZeoDGjJAbVilKvVWmAMjqVbtxlzrfVtLb9cXsAhSl/Ko+eyf/0247OllEF
oRA9wU2xpeQohyl1N+ki7h5/2bX4avso1hNH8185XsLSFXivBuFOE1BuBqhu2EhU
3q1Sd/1W55OHOjrIjXhd7odIW0kXxij7U9qLqEUCgYEAzuyn/Yqh9IIx7768k8el
SaZfTnbJnEk2pHU8Um4r28x7nN+npa29bvnzVv1NgmnHBdm8s8IJCdbCp7/kxHxF
LTS+Uoj+YX0ayYhJ3AVKXkWY3DYiZZVskIlwnRP4HLylXsz1qtHUJKer/W2birSF
b7vsI9petsSzMbTPzXE0RR8=
-----END PRIVATE KEY-----
)";

Pkey rsa_key() {
  BIO* bio = BIO_new_mem_buf(kRsaPrivateKeyPem.data(), int(kRsaPrivateKeyPem.size()));
  Pkey key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

// Real key pairs, made once: an attacker's, as a key-confusion attack would use.
struct Keys {
  Pkey rsa = rsa_key();
  Pkey ec{EVP_EC_gen("P-256")};
  Pkey ed{EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")};
  Keys() { require(rsa && ec && ed, "key generation"); }
};

const Keys& keys() {
  static const Keys k;
  return k;
}

// ---- tokens ------------------------------------------------------------------------------

std::string segments(std::string_view header_json, std::string_view payload_json) {
  return b64url(header_json) + "." + b64url(payload_json);
}

// header.payload signed with HMAC (SHA-256 unless told) under key.
std::string hs(std::string_view header_json, std::string_view payload_json,
               std::string_view key = kKey, const EVP_MD* md = EVP_sha256()) {
  const std::string input = segments(header_json, payload_json);
  return input + "." + b64url(hmac(md, key, input));
}

std::string asymmetric(std::string_view header_json, std::string_view payload_json, EVP_PKEY* key,
                       const EVP_MD* md, bool pss = false) {
  const std::string input = segments(header_json, payload_json);
  return input + "." + b64url(sign_with(key, md, input, pss));
}

std::string unsigned_token(std::string_view header_json, std::string_view payload_json) {
  return segments(header_json, payload_json) + ".";
}

constexpr std::string_view kHs256 = R"({"alg":"HS256","typ":"JWT"})";

std::string num(int64_t n) { return std::to_string(n); }

// alice's claims, valid at kNow, with extra members appended.
std::string alice(std::string_view extra = "") {
  return R"({"username":"alice","iat":)" + num(kNow) + R"(,"exp":)" + num(kNow + 60) +
         std::string(extra) + "}";
}

std::string good() { return hs(kHs256, alice()); }

struct Parts {
  std::string header, payload, signature;
};

Parts split(const std::string& token) {
  const std::size_t a = token.find('.');
  const std::size_t b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

// ---- the table -----------------------------------------------------------------------------

struct Case {
  std::string name;
  std::string token;
  bool accepted = false;
  std::optional<JwtFailure> failure;  // when refused
  std::string key = std::string(kKey);
  std::string username = "alice";
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Case accepts(std::string name, std::string token, std::string username = "alice") {
  return {std::move(name), std::move(token),  true,
          std::nullopt,    std::string(kKey), std::move(username)};
}

Case refuses(std::string name, std::string token, JwtFailure failure) {
  return {std::move(name), std::move(token), false, failure};
}

// A test name from free text: letters and digits kept, the rest as '_'.
std::string label(std::string_view text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

using F = JwtFailure;

// alg "none" in all 16 capitalisations, unsigned and with an HMAC made with the server's own key.
void add_alg_none(std::vector<Case>& c) {
  for (int mask = 0; mask < 16; ++mask) {
    std::string none = "none";
    for (int i = 0; i < 4; ++i)
      if (mask & (1 << i)) none[i] = char(std::toupper(static_cast<unsigned char>(none[i])));
    const std::string header = R"({"alg":")" + none + R"(","typ":"JWT"})";
    c.push_back(refuses("AlgNone_" + none + "_Unsigned", unsigned_token(header, alice()),
                        F::unsupported_alg));
    c.push_back(refuses("AlgNone_" + none + "_SignedWithTheServersKey", hs(header, alice()),
                        F::unsupported_alg));
  }
  c.push_back(refuses("AlgNoneWithATrailingNul", hs(R"({"alg":"none\u0000"})", alice()),
                      F::unsupported_alg));
  c.push_back(
      refuses("AlgEmptyString", unsigned_token(R"({"alg":""})", alice()), F::unsupported_alg));
  c.push_back(refuses("AlgNull", hs(R"({"alg":null})", alice()), F::unsupported_alg));
}

void add_other_algorithms(std::vector<Case>& c) {
  const Keys& k = keys();
  // HMAC with another hash, computed with the server's own key: a verifier that let the header
  // choose the hash would accept these.
  c.push_back(refuses("Hs384WithTheServersKey",
                      hs(R"({"alg":"HS384"})", alice(), kKey, EVP_sha384()), F::unsupported_alg));
  c.push_back(refuses("Hs512WithTheServersKey",
                      hs(R"({"alg":"HS512"})", alice(), kKey, EVP_sha512()), F::unsupported_alg));
  c.push_back(refuses("AlgHs256WithANulInside", hs(R"({"alg":"HS256\u0000"})", alice()),
                      F::unsupported_alg));
  c.push_back(refuses("AlgHs256MixedCase", hs(R"({"alg":"Hs256"})", alice()), F::unsupported_alg));
  c.push_back(
      refuses("AlgHs256WithALeadingSpace", hs(R"({"alg":" HS256"})", alice()), F::unsupported_alg));
  c.push_back(refuses("AlgHs256AsAnObject", hs(R"({"alg":{"name":"HS256"}})", alice()),
                      F::unsupported_alg));
  // A JSON escape is not a different spelling: the decoded string is exactly "HS256".
  c.push_back(
      accepts("AlgHs256WrittenWithJsonEscapes", hs(R"({"alg":"HS\u0032\u00356"})", alice())));

  // Real asymmetric signatures with an attacker's keys.
  c.push_back(refuses("Rs256SignedWithARealRsaKey",
                      asymmetric(R"({"alg":"RS256"})", alice(), k.rsa.get(), EVP_sha256()),
                      F::unsupported_alg));
  c.push_back(refuses("Rs512SignedWithARealRsaKey",
                      asymmetric(R"({"alg":"RS512"})", alice(), k.rsa.get(), EVP_sha512()),
                      F::unsupported_alg));
  c.push_back(refuses("Ps256SignedWithARealRsaKey",
                      asymmetric(R"({"alg":"PS256"})", alice(), k.rsa.get(), EVP_sha256(), true),
                      F::unsupported_alg));
  c.push_back(refuses("Es256SignedWithARealEcKey",
                      asymmetric(R"({"alg":"ES256"})", alice(), k.ec.get(), EVP_sha256()),
                      F::unsupported_alg));
  c.push_back(refuses("EdDsaSignedWithARealEd25519Key",
                      asymmetric(R"({"alg":"EdDSA"})", alice(), k.ed.get(), nullptr),
                      F::unsupported_alg));

  // Key confusion: HS256 keyed with a public key, the classic RS256-to-HS256 attack.
  const std::string rsa_pem = public_pem(k.rsa.get());
  const std::string ec_pem = public_pem(k.ec.get());
  c.push_back(
      refuses("Hs256KeyedWithTheRsaPublicKeyPem", hs(kHs256, alice(), rsa_pem), F::bad_signature));
  c.push_back(
      refuses("Hs256KeyedWithTheEcPublicKeyPem", hs(kHs256, alice(), ec_pem), F::bad_signature));
  c.push_back(refuses("Hs256KeyedWithTheRsaPublicKeyDer",
                      hs(kHs256, alice(), public_der(k.rsa.get())), F::bad_signature));
  // The other direction: a valid HMAC under the server's key does not rescue another alg.
  c.push_back(
      refuses("Rs256HeaderOverAValidHmac", hs(R"({"alg":"RS256"})", alice()), F::unsupported_alg));
  c.push_back(
      refuses("Es256HeaderOverAValidHmac", hs(R"({"alg":"ES256"})", alice()), F::unsupported_alg));
  // An HS256 header over an RSA signature: 256 bytes where 32 are expected.
  c.push_back(refuses("Hs256HeaderOverAnRsaSignature",
                      asymmetric(kHs256, alice(), k.rsa.get(), EVP_sha256()), F::bad_signature));
  // A server whose secret happens to be a PEM public key still never verifies RSA with it.
  Case pem_secret = refuses("Rs256RefusedEvenWhenTheSecretIsThePublicKeyPem",
                            asymmetric(R"({"alg":"RS256"})", alice(), k.rsa.get(), EVP_sha256()),
                            F::unsupported_alg);
  pem_secret.key = rsa_pem;
  c.push_back(pem_secret);
}

// kid, jku, x5u, x5c and jwk choose or fetch a key in other verifiers. Here the key is always the
// server's secret: with the server's signature they change nothing, with any other they fail.
void add_key_selecting_headers(std::vector<Case>& c) {
  const Keys& k = keys();
  const std::string jwk_rsa = R"({"kty":"RSA","n":")" + b64url(bn_param(k.rsa.get(), "n")) +
                              R"(","e":")" + b64url(bn_param(k.rsa.get(), "e")) + R"("})";
  const std::string jwk_oct = R"({"kty":"oct","k":")" + b64url(kAttackerKey) + R"("})";

  c.push_back(refuses("KidPathTraversalToDevNullWithAnEmptyKey",
                      hs(R"({"alg":"HS256","kid":"../../../../../../dev/null"})", alice(), ""),
                      F::bad_signature));
  c.push_back(refuses(
      "KidSqlInjectionNamingTheAttackersKey",
      hs(R"({"alg":"HS256","kid":"x' UNION SELECT 'attacker-key' --"})", alice(), "attacker-key"),
      F::bad_signature));
  c.push_back(refuses("KidNamingAnotherKey",
                      hs(R"({"alg":"HS256","kid":"attacker"})", alice(), kAttackerKey),
                      F::bad_signature));
  c.push_back(refuses("KidAsANumberWithTheAttackersKey",
                      hs(R"({"alg":"HS256","kid":0})", alice(), kAttackerKey), F::bad_signature));
  c.push_back(refuses("JkuPointingAtTheAttackersJwksRs256",
                      asymmetric(R"({"alg":"RS256","jku":"http://127.0.0.1:9/jwks.json"})", alice(),
                                 k.rsa.get(), EVP_sha256()),
                      F::unsupported_alg));
  c.push_back(
      refuses("JkuPointingAtTheAttackersJwksHs256",
              hs(R"({"alg":"HS256","jku":"http://127.0.0.1:9/jwks.json"})", alice(), kAttackerKey),
              F::bad_signature));
  c.push_back(refuses("X5uPointingAtTheAttackersCertificate",
                      asymmetric(R"({"alg":"RS256","x5u":"http://127.0.0.1:9/cert.pem"})", alice(),
                                 k.rsa.get(), EVP_sha256()),
                      F::unsupported_alg));
  c.push_back(
      refuses("X5cCarryingTheAttackersCertificate",
              asymmetric(R"({"alg":"RS256","x5c":[")" + b64url(public_der(k.rsa.get())) + R"("]})",
                         alice(), k.rsa.get(), EVP_sha256()),
              F::unsupported_alg));
  c.push_back(refuses(
      "JwkEmbeddingTheAttackersRsaKey",
      asymmetric(R"({"alg":"RS256","jwk":)" + jwk_rsa + "}", alice(), k.rsa.get(), EVP_sha256()),
      F::unsupported_alg));
  c.push_back(refuses("JwkEmbeddingTheAttackersHmacKey",
                      hs(R"({"alg":"HS256","jwk":)" + jwk_oct + "}", alice(), kAttackerKey),
                      F::bad_signature));

  c.push_back(accepts("KidIsIgnoredUnderTheServersKey",
                      hs(R"({"alg":"HS256","kid":"../../etc/passwd"})", alice())));
  c.push_back(accepts("JkuIsNeverFetchedUnderTheServersKey",
                      hs(R"({"alg":"HS256","jku":"http://127.0.0.1:9/jwks.json"})", alice())));
  c.push_back(accepts("X5uIsNeverFetchedUnderTheServersKey",
                      hs(R"({"alg":"HS256","x5u":"http://127.0.0.1:9/cert.pem"})", alice())));
  c.push_back(accepts("JwkIsIgnoredUnderTheServersKey",
                      hs(R"({"alg":"HS256","jwk":)" + jwk_oct + "}", alice())));
}

// crit names extensions the verifier must understand; it understands none, so any crit is
// refused (RFC 7515 4.1.11), whatever it holds.
void add_crit(std::vector<Case>& c) {
  for (const auto& [name, crit] : std::vector<std::pair<std::string, std::string>>{
           {"CritNamingAClaim", R"(["exp"])"},
           {"CritNamingAnUnknownExtension", R"(["http://example.com/ext"])"},
           {"CritEmpty", "[]"},
           {"CritB64False", R"(["b64"],"b64":false)"},
           {"CritNotAList", R"("exp")"},
       }) {
    c.push_back(refuses(name, hs(R"({"alg":"HS256","crit":)" + crit + "}", alice()),
                        F::critical_extension));
  }
}

void add_encoding(std::vector<Case>& c) {
  const Parts p = split(good());
  auto join = [](const std::string& h, const std::string& pl, const std::string& s) {
    return h + "." + pl + "." + s;
  };
  // Padding on each segment, and padding spelled as a URL escape.
  c.push_back(
      refuses("PaddingOnTheHeader", join(p.header + "=", p.payload, p.signature), F::malformed));
  c.push_back(
      refuses("PaddingOnThePayload", join(p.header, p.payload + "==", p.signature), F::malformed));
  c.push_back(refuses("DoublePaddingOnTheSignature", join(p.header, p.payload, p.signature + "=="),
                      F::malformed));
  c.push_back(
      refuses("UrlEscapedPadding", join(p.header, p.payload, p.signature + "%3D"), F::malformed));
  c.push_back(
      refuses("PaddingInTheMiddleOfASegment",
              join(p.header.substr(0, 4) + "=" + p.header.substr(4), p.payload, p.signature),
              F::malformed));
  // Characters outside the base64url alphabet.
  for (const auto& [name, ch] :
       std::vector<std::pair<std::string, std::string>>{{"Plus", "+"},
                                                        {"Slash", "/"},
                                                        {"Asterisk", "*"},
                                                        {"Percent", "%"},
                                                        {"Tilde", "~"},
                                                        {"Nul", std::string(1, '\0')},
                                                        {"Del", "\x7f"},
                                                        {"Latin1Byte", "\xe9"},
                                                        {"Utf8Letter", "\xc3\xa9"},
                                                        {"Backslash", "\\"},
                                                        {"Quote", "\""}}) {
    c.push_back(
        refuses("CharacterInTheHeader_" + name,
                join(p.header.substr(0, 8) + ch + p.header.substr(9), p.payload, p.signature),
                F::malformed));
    c.push_back(refuses("CharacterInTheSignature_" + name,
                        join(p.header, p.payload, p.signature.substr(0, 42) + ch), F::malformed));
  }
  // Whitespace anywhere.
  for (const auto& [name, token] : std::vector<std::pair<std::string, std::string>>{
           {"LeadingSpace", " " + good()},
           {"TrailingSpace", good() + " "},
           {"TrailingNewline", good() + "\n"},
           {"TrailingCrLf", good() + "\r\n"},
           {"TabInsideThePayload",
            join(p.header, p.payload.substr(0, 10) + "\t" + p.payload.substr(10), p.signature)},
           {"SpacesAroundTheDots", p.header + " . " + p.payload + " . " + p.signature},
           {"NewlineBetweenSegments", p.header + ".\n" + p.payload + "." + p.signature},
           {"NonBreakingSpace", "\xc2\xa0" + good()},
       }) {
    c.push_back(refuses("Whitespace_" + name, token, F::malformed));
  }
  // Segment structure.
  c.push_back(refuses("EmptyHeaderSegment", join("", p.payload, p.signature), F::malformed));
  c.push_back(refuses("EmptyPayloadSegmentSigned", hs(kHs256, ""), F::malformed));
  c.push_back(refuses("OnlyDots", "..", F::malformed));
  c.push_back(
      refuses("FiveSegments", good() + "." + p.signature + "." + p.signature, F::malformed));
  c.push_back(refuses("JweShapedFiveSegments",
                      b64url(R"({"alg":"dir","enc":"A256GCM"})") + "..AAAA.AAAA.AAAA",
                      F::malformed));
  // What the segments decode to.
  c.push_back(refuses("HeaderOfInvalidUtf8", hs("{\"alg\":\"HS256\xff\"}", alice()), F::malformed));
  c.push_back(refuses("PayloadOfInvalidUtf8",
                      hs(kHs256, R"({"username":"al)"
                                 "\xc3\x28"
                                 R"(ice","exp":)" +
                                     num(kNow + 60) + "}"),
                      F::malformed));
  c.push_back(refuses("HeaderWithAByteOrderMark", hs("\xef\xbb\xbf{\"alg\":\"HS256\"}", alice()),
                      F::malformed));
  c.push_back(
      refuses("HeaderWithAComment", hs(R"({"alg":"HS256" /* x */})", alice()), F::malformed));
  c.push_back(
      refuses("HeaderWithATrailingComma", hs(R"({"alg":"HS256",})", alice()), F::malformed));
  c.push_back(refuses("TwoJsonDocumentsInTheHeader",
                      hs(R"({"alg":"none"}{"alg":"HS256"})", alice()), F::malformed));
  c.push_back(refuses("HeaderThatIsAJsonString", hs(R"("HS256")", alice()), F::malformed));
  c.push_back(refuses("PayloadWithANanLiteral", hs(kHs256, alice(R"(,"x":NaN)")), F::malformed));
  c.push_back(refuses("TwoJsonDocumentsInThePayload",
                      hs(kHs256, alice() + R"({"username":"admin"})"), F::malformed));
}

// RFC 7515 4 and RFC 7519 4 allow refusing or taking the last of duplicate names; taking one
// would let two verifiers read one token differently, so every duplicate is refused.
void add_duplicates(std::vector<Case>& c) {
  c.push_back(refuses("DuplicateAlgNoneThenHs256", hs(R"({"alg":"none","alg":"HS256"})", alice()),
                      F::malformed));
  c.push_back(refuses("DuplicateAlgHs256ThenNone", hs(R"({"alg":"HS256","alg":"none"})", alice()),
                      F::malformed));
  c.push_back(refuses("DuplicateAlgWithTheSameValue",
                      hs(R"({"alg":"HS256","alg":"HS256"})", alice()), F::malformed));
  c.push_back(
      refuses("DuplicateUsername", hs(kHs256, alice(R"(,"username":"admin")")), F::malformed));
  c.push_back(refuses("DuplicateUsernameSpelledWithAJsonEscape",
                      hs(kHs256, alice(R"(,"user\u006eame":"admin")")), F::malformed));
  c.push_back(refuses("DuplicateSub",
                      hs(kHs256, R"({"sub":"alice","sub":"admin","exp":)" + num(kNow + 60) + "}"),
                      F::malformed));
  c.push_back(
      refuses("DuplicateExpFutureThenExpired", hs(kHs256, alice(R"(,"exp":1)")), F::malformed));
  c.push_back(refuses("DuplicateNbf", hs(kHs256, alice(R"(,"nbf":0,"nbf":0)")), F::malformed));
  c.push_back(refuses("DuplicateIat", hs(kHs256, alice(R"(,"iat":0)")), F::malformed));
  // Inside a claim the server never reads, a repeated name decides nothing.
  c.push_back(accepts("DuplicateInsideAnIgnoredClaimIsAccepted",
                      hs(kHs256, alice(R"(,"ctx":{"a":1,"a":2})"))));
}

// Every wrong type and extreme value of exp, nbf and iat.
void add_time_claims(std::vector<Case>& c) {
  struct Value {
    std::string name, json;
    enum Kind { wrong_type, far_past, far_future } kind;
  };
  const std::vector<Value> values = {
      {"NumericString", '"' + num(kNow + 60) + '"', Value::wrong_type},
      {"EmptyString", R"("")", Value::wrong_type},
      {"ExponentString", R"("1e400")", Value::wrong_type},
      {"True", "true", Value::wrong_type},
      {"False", "false", Value::wrong_type},
      {"Null", "null", Value::wrong_type},
      {"EmptyArray", "[]", Value::wrong_type},
      {"ArrayOfANumber", "[" + num(kNow + 60) + "]", Value::wrong_type},
      {"EmptyObject", "{}", Value::wrong_type},
      {"ExtendedJsonObject", R"({"$numberLong":")" + num(kNow + 60) + R"("})", Value::wrong_type},
      {"Zero", "0", Value::far_past},
      {"NegativeZero", "-0", Value::far_past},
      {"NegativeZeroFloat", "-0.0", Value::far_past},
      {"MinusOne", "-1", Value::far_past},
      {"Int64Min", num(kMin), Value::far_past},
      {"BelowInt64Min", "-9223372036854775809", Value::far_past},
      {"MinusHugeDouble", "-1e308", Value::far_past},
      {"MinusInfinity", "-1e400", Value::far_past},
      {"SmallestDenormal", "5e-324", Value::far_past},
      {"Int64Max", num(kMax), Value::far_future},
      {"AboveInt64Max", "9223372036854775808", Value::far_future},
      {"Uint64Max", "18446744073709551615", Value::far_future},
      {"AboveUint64Max", "18446744073709551616", Value::far_future},
      {"HugeDouble", "1e308", Value::far_future},
      {"Infinity", "1e400", Value::far_future},
      {"FourHundredDigits", "1" + std::string(399, '0'), Value::far_future},
  };
  for (const Value& v : values) {
    const std::string exp_token = hs(kHs256, R"({"username":"alice","exp":)" + v.json + "}");
    const std::string nbf_token = hs(kHs256, alice(R"(,"nbf":)" + v.json));
    const std::string iat_token =
        hs(kHs256, R"({"username":"alice","exp":)" + num(kNow + 60) + R"(,"iat":)" + v.json + "}");
    switch (v.kind) {
      case Value::wrong_type:
        c.push_back(refuses("Exp" + v.name, exp_token, F::missing_exp));
        c.push_back(refuses("Nbf" + v.name, nbf_token, F::malformed));
        c.push_back(refuses("Iat" + v.name, iat_token, F::malformed));
        break;
      case Value::far_past:
        c.push_back(refuses("Exp" + v.name, exp_token, F::expired));
        c.push_back(accepts("Nbf" + v.name, nbf_token));
        c.push_back(accepts("Iat" + v.name, iat_token));
        break;
      case Value::far_future:
        c.push_back(accepts("Exp" + v.name, exp_token));
        c.push_back(refuses("Nbf" + v.name, nbf_token, F::not_yet_valid));
        c.push_back(refuses("Iat" + v.name, iat_token, F::not_yet_valid));
        break;
    }
  }
  // iat at the edges of the leeway (30 s), as nbf.
  auto iat_at = [](const std::string& iat) {
    return hs(kHs256, R"({"username":"alice","exp":)" + num(kNow + 60) + R"(,"iat":)" + iat + "}");
  };
  c.push_back(accepts("IatWithinLeeway", iat_at(num(kNow + 30))));
  c.push_back(refuses("IatJustBeyondLeeway", iat_at(num(kNow + 31)), F::not_yet_valid));
  c.push_back(
      refuses("FractionalIatJustBeyondLeeway", iat_at(num(kNow + 30) + ".5"), F::not_yet_valid));
  // A time written in exponent form is an ordinary number.
  c.push_back(
      accepts("ExpInExponentForm", hs(kHs256, R"({"username":"alice","exp":1.70000006e9})")));
}

void add_identity(std::vector<Case>& c) {
  const std::string exp = R"(,"exp":)" + num(kNow + 60) + "}";
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"True", "true"},
                                                        {"Null", "null"},
                                                        {"Array", R"(["alice"])"},
                                                        {"Object", R"({"name":"alice"})"}}) {
    c.push_back(refuses("Username" + name, hs(kHs256, R"({"username":)" + value + exp),
                        F::missing_identity));
    c.push_back(refuses("Sub" + name, hs(kHs256, R"({"sub":)" + value + exp), F::missing_identity));
  }
  c.push_back(refuses("NullUsernameDoesNotFallBackToSub",
                      hs(kHs256, R"({"username":null,"sub":"alice")" + exp), F::missing_identity));
  // The verifier passes any non-empty string on; the user lookup, not the verifier, refuses a
  // name no account has (e2e: 403). It must come through byte for byte, NUL included.
  c.push_back(accepts("UsernameWithANulComesThroughWhole",
                      hs(kHs256, R"({"username":"alice\u0000admin")" + exp),
                      std::string("alice\0admin", 11)));
  c.push_back(accepts("UsernameWithSqlMetacharactersComesThroughWhole",
                      hs(kHs256, R"({"username":"alice' OR '1'='1")" + exp), "alice' OR '1'='1"));
}

void add_sizes(std::vector<Case>& c) {
  c.push_back(refuses("OneMebibyteToken", std::string(1 << 20, 'a'), F::too_large));
  c.push_back(refuses("OneMebibyteOfDots", std::string(1 << 20, '.'), F::too_large));
  c.push_back(refuses("OneMebibyteValidlySigned",
                      hs(kHs256, alice(R"(,"pad":")" + std::string(1 << 20, 'x') + "\"")),
                      F::too_large));
  // JSON nesting: Boost.JSON's default limit of 32 levels, the top-level object included.
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  c.push_back(
      accepts("NestingOf32LevelsIsAccepted", hs(kHs256, alice(R"(,"deep":)" + nested(31)))));
  c.push_back(refuses("NestingOf33LevelsIsRefused", hs(kHs256, alice(R"(,"deep":)" + nested(32))),
                      F::malformed));
  c.push_back(refuses("NestingOf3000LevelsIsRefused",
                      hs(kHs256, alice(R"(,"deep":)" + nested(3000))), F::malformed));
  c.push_back(refuses("HeaderNestedDeeply",
                      hs(R"({"alg":"HS256","x":)" + nested(3000) + "}", alice()), F::malformed));
  std::string many;
  for (int i = 0; i < 500; ++i) many += ",\"c" + num(i) + "\":" + num(i);
  c.push_back(accepts("FiveHundredClaimsAreAccepted", hs(kHs256, alice(many))));
}

std::vector<Case> cases() {
  std::vector<Case> c;
  add_alg_none(c);
  add_other_algorithms(c);
  add_key_selecting_headers(c);
  add_crit(c);
  add_encoding(c);
  add_duplicates(c);
  add_time_claims(c);
  add_identity(c);
  add_sizes(c);
  for (Case& row : c) row.name = label(row.name);
  return c;
}

class JwtHostileTest : public testing::TestWithParam<Case> {};

TEST_P(JwtHostileTest, Verify) {
  const Case& c = GetParam();
  const VerifyResult result = JwtVerifier(c.key).verify(c.token, kNow);
  if (c.accepted) {
    ASSERT_TRUE(result.ok()) << "refused: " << to_string(result.failure);
    EXPECT_EQ(result.claims->username, c.username);
  } else {
    ASSERT_FALSE(result.ok()) << "accepted as " << result.claims->username;
    EXPECT_EQ(to_string(result.failure), to_string(*c.failure));
  }
}

INSTANTIATE_TEST_SUITE_P(Tokens, JwtHostileTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(JwtHostileTest, TheServersOwnTokenIsAcceptedSoEveryRefusalIsAboutItsRow) {
  const VerifyResult r = JwtVerifier(std::string(kKey)).verify(good(), kNow);
  ASSERT_TRUE(r.ok()) << to_string(r.failure);
  EXPECT_EQ(r.claims->username, "alice");
}

TEST(JwtHostileTest, ExtremePastIatIsReportedSaturated) {
  const VerifyResult r =
      JwtVerifier(std::string(kKey))
          .verify(hs(kHs256, R"({"username":"a","exp":)" + num(kNow + 60) + R"(,"iat":-1e400})"),
                  kNow);
  ASSERT_TRUE(r.ok()) << to_string(r.failure);
  EXPECT_EQ(r.claims->iat, kMin);
}

TEST(JwtHostileTest, TableCoversEveryRefusalReason) {
  std::vector<std::string> seen;
  for (const Case& c : cases())
    if (c.failure) seen.emplace_back(to_string(*c.failure));
  for (std::string_view reason :
       {"too_large", "malformed", "unsupported_alg", "critical_extension", "bad_signature",
        "missing_exp", "expired", "not_yet_valid", "missing_identity"}) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), reason), seen.end()) << reason;
  }
}

}  // namespace
}  // namespace chat::auth
