// The JWT verifier against arbitrary bytes, two ways: the input as a token, and the input as the
// payload of a token signed with the right key (which reaches the claim checks behind the
// signature). Properties: nothing crashes; an accepted token names a user; a token this process
// signed never fails on its signature or its algorithm.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/jwt.h"
#include "fuzz_check.h"

namespace {

constexpr std::string_view kKey = "fuzz-secret";
constexpr int64_t kNow = 1'800'000'000;  // a fixed clock keeps every run reproducible

void check(const chat::auth::VerifyResult& result) {
  if (result.ok()) FUZZ_CHECK(!result.claims->username.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const chat::auth::JwtVerifier verifier{std::string(kKey)};
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  check(verifier.verify(input, kNow));

  if (input.size() <= chat::auth::JwtVerifier::kMaxTokenBytes / 2) {
    const auto signed_result = verifier.verify(chat::auth::sign_hs256(input, kKey), kNow);
    check(signed_result);
    if (!signed_result.ok()) {
      FUZZ_CHECK(signed_result.failure != chat::auth::JwtFailure::bad_signature);
      FUZZ_CHECK(signed_result.failure != chat::auth::JwtFailure::unsupported_alg);
      FUZZ_CHECK(signed_result.failure != chat::auth::JwtFailure::too_large);
    }
  }
  return 0;
}
