#pragma once
// Where the JWT signing key comes from. Unlike jwt.h this does I/O (environment and files).
// jwt.py at the repository root follows the same rules; change both together.
#include <string>

#include "base/result.h"

namespace chat::auth {

// Secrets shorter than this are refused: HS256 with a short key can be brute-forced offline.
inline constexpr std::size_t kMinJwtSecretBytes = 32;

// Where a resolved secret came from, for a startup log line. Never contains the secret itself.
struct SecretSource {
  std::string description;  // e.g. "env CHAT_JWT_SECRET_FILE (/run/secrets/jwt)"
};

// Resolution order:
//   1. env CHAT_JWT_SECRET_FILE: the file's text, without ONE trailing "\n" or "\r\n";
//   2. env CHAT_JWT_SECRET: its value as is;
//   3. <data_dir>/jwt-secret, created when missing (mode 0600, 64 random lower-case hex characters
//      and "\n"; data_dir is created with mode 0700 if needed). Written to an O_EXCL temporary
//      file and published with link(), so two processes starting together agree on one key and
//      neither can read it half-written.
// A variable that is set counts even when empty (then refused as too short), so that a typo in
// a deployment fails loudly instead of silently falling back to a generated key.
// Errors: a secret shorter than kMinJwtSecretBytes -> Errc::bad_request naming the source;
// an unreadable or uncreatable file -> Errc::internal with the path and strerror.
// Not thread-safe with respect to concurrent setenv(); call once at startup.
chat::Result<std::string> resolve_jwt_secret(const std::string& data_dir,
                                             SecretSource* source = nullptr);

}  // namespace chat::auth
