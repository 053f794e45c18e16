#include "auth/secret.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace chat::auth {
namespace {

// A guard against a variable pointing at something like /dev/urandom, not a real limit.
constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

Error file_error(const std::string& what, const std::string& path, int err) {
  return make_error(Errc::internal, what + " " + path + ": " + std::strerror(err));
}

// Reads an open descriptor to the end and closes it.
Result<std::string> read_and_close(int fd, const std::string& path) {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return file_error("cannot read JWT secret file", path, err);
    }
    if (n == 0) break;
    text.append(buf, std::size_t(n));
    if (text.size() > kMaxSecretFileBytes) {
      ::close(fd);
      return make_error(Errc::bad_request, "JWT secret file " + path + " is larger than " +
                                               std::to_string(kMaxSecretFileBytes) + " bytes");
    }
  }
  ::close(fd);
  // Editors and `echo` add one newline; strip exactly one so a secret may still end in whitespace.
  if (text.ends_with("\r\n")) {
    text.resize(text.size() - 2);
  } else if (text.ends_with('\n')) {
    text.pop_back();
  }
  return text;
}

Result<std::string> read_secret_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file_error("cannot open JWT secret file", path, errno);
  return read_and_close(fd, path);
}

// Creates dir with mode 0700 (its missing parents get the default mode), accepting one that exists.
Status ensure_private_dir(const std::string& dir) {
  std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "data/" -> "data"
  if (::mkdir(p.c_str(), 0700) == 0 || errno == EEXIST) return Ok{};
  if (errno == ENOENT && p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
      return make_error(Errc::internal,
                        "cannot create data directory " + dir + ": " + ec.message());
    }
    if (::mkdir(p.c_str(), 0700) == 0 || errno == EEXIST) return Ok{};
  }
  return file_error("cannot create data directory", dir, errno);
}

Result<std::string> generate_hex_secret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return make_error(Errc::internal, "RAND_bytes failed to generate a JWT secret");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : bytes) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

// Reads <data_dir>/jwt-secret, creating it first when missing.
Result<std::string> read_or_create_data_dir_secret(const std::string& path,
                                                   const std::string& data_dir) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return read_and_close(fd, path);
  if (errno != ENOENT) return file_error("cannot open JWT secret file", path, errno);

  if (Status dir = ensure_private_dir(data_dir); !dir.ok()) return dir.error();
  Result<std::string> secret = generate_hex_secret();
  if (!secret.ok()) return secret.error();

  // Two processes may start together. Each writes a complete file under a temporary name, then
  // link() publishes it only if jwt-secret does not exist yet (link never overwrites); the loser
  // reads the winner's key. Creating jwt-secret itself with O_EXCL would let the loser read it
  // between the winner's open and write, empty.
  std::string tmp = path + ".XXXXXX";
  fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // O_EXCL, mode 0600
  if (fd < 0) return file_error("cannot create JWT secret file", tmp, errno);
  const std::string text = *secret + "\n";
  std::size_t written = 0;
  int err = 0;
  while (written < text.size() && err == 0) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n > 0) {
      written += std::size_t(n);
    } else if (n == 0 || errno != EINTR) {
      err = n == 0 ? EIO : errno;
    }
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::link(tmp.c_str(), path.c_str()) != 0) err = errno;
  ::unlink(tmp.c_str());
  if (err == EEXIST) return read_secret_file(path);
  if (err != 0) return file_error("cannot create JWT secret file", path, err);
  return secret;
}

}  // namespace

Result<std::string> resolve_jwt_secret(const std::string& data_dir, SecretSource* source) {
  std::string description;
  Result<std::string> secret = std::string();
  if (const char* file = std::getenv("CHAT_JWT_SECRET_FILE")) {
    description = std::string("env CHAT_JWT_SECRET_FILE (") + file + ")";
    secret = read_secret_file(file);
  } else if (const char* value = std::getenv("CHAT_JWT_SECRET")) {
    description = "env CHAT_JWT_SECRET";
    secret = std::string(value);
  } else {
    const std::string path = (std::filesystem::path(data_dir) / "jwt-secret").string();
    description = "file " + path;
    secret = read_or_create_data_dir_secret(path, data_dir);
  }
  if (!secret.ok()) return secret.error();
  if (secret->size() < kMinJwtSecretBytes) {
    return make_error(Errc::bad_request, "JWT secret from " + description + " is shorter than " +
                                             std::to_string(kMinJwtSecretBytes) +
                                             " bytes; use e.g. `openssl rand -hex 32`");
  }
  if (source != nullptr) source->description = std::move(description);
  return secret;
}

}  // namespace chat::auth
