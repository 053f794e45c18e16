#include "auth/secret.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace chat::auth {
namespace {

namespace fs = std::filesystem;

const char* const kEnvVars[] = {"CHAT_JWT_SECRET_FILE", "CHAT_JWT_SECRET"};

const std::string k40a(40, 'a');
const std::string k40b(40, 'b');
const std::string k40c(40, 'c');
const std::string k31(31, 's');

// Gives each test an empty temp dir and an environment without the secret variables, and puts
// the environment back afterwards.
class SecretTestBase {
 protected:
  void set_up() {
    for (const char* name : kEnvVars) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
    std::string tmpl = (fs::temp_directory_path() / "secret_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    tmp_ = tmpl;
  }

  void tear_down() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  static void write(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string data_dir() const { return (tmp_ / "data").string(); }

  fs::path tmp_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

struct Case {
  std::string name;
  std::optional<std::string> secret_file;  // written to a file named by CHAT_JWT_SECRET_FILE
  std::optional<std::string> secret_env;   // CHAT_JWT_SECRET
  std::optional<std::string> data_file;    // an existing <data_dir>/jwt-secret
  std::optional<std::string> expected;     // nullopt: an error is expected
  Errc error = Errc::internal;
  std::string message_contains = "";
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Case ok(std::string name, std::optional<std::string> file, std::optional<std::string> env,
        std::optional<std::string> data, std::string expected) {
  return {std::move(name), std::move(file), std::move(env), std::move(data), std::move(expected)};
}

Case error(std::string name, std::optional<std::string> file, std::optional<std::string> env,
           std::optional<std::string> data, Errc code, std::string message_contains) {
  return {std::move(name),
          std::move(file),
          std::move(env),
          std::move(data),
          std::nullopt,
          code,
          std::move(message_contains)};
}

const auto kNone = std::nullopt;

std::vector<Case> cases() {
  return {
      ok("FileEnvWinsOverEnvAndDataDir", k40a + "\n", k40b, k40c + "\n", k40a),
      ok("EnvWinsOverDataDir", kNone, k40b, k40c + "\n", k40b),
      ok("ExistingDataDirFileIsReused", kNone, kNone, k40c + "\n", k40c),
      ok("FileWithoutTrailingNewline", k40a, kNone, kNone, k40a),
      ok("StripsExactlyOneTrailingNewline", k40a + "\n\n", kNone, kNone, k40a + "\n"),
      ok("StripsOneTrailingCrLf", k40a + "\r\n", kNone, kNone, k40a),
      ok("KeepsOtherTrailingWhitespace", k40a + " \t", kNone, kNone, k40a + " \t"),
      ok("EnvValueIsTakenAsIs", kNone, k40b + "\n", kNone, k40b + "\n"),
      ok("AcceptsExactly32Bytes", std::string(32, 'x') + "\n", kNone, kNone, std::string(32, 'x')),
      error("RefusesShortFile", k31 + "\n", kNone, kNone, Errc::bad_request,
            "CHAT_JWT_SECRET_FILE"),
      error("RefusesFileShortAfterStrippingCrLf", k31 + "\r\n", kNone, kNone, Errc::bad_request,
            "shorter than 32 bytes"),
      error("RefusesShortEnv", kNone, k31, k40c, Errc::bad_request, "env CHAT_JWT_SECRET"),
      error("RefusesEmptyEnvInsteadOfFallingBack", kNone, "", k40c, Errc::bad_request,
            "env CHAT_JWT_SECRET"),
      error("RefusesShortDataDirFile", kNone, kNone, k31 + "\n", Errc::bad_request, "jwt-secret"),
  };
}

class SecretResolveTest : public SecretTestBase, public testing::TestWithParam<Case> {
 protected:
  void SetUp() override { set_up(); }
  void TearDown() override { tear_down(); }
};

TEST_P(SecretResolveTest, Resolve) {
  const Case& c = GetParam();
  if (c.secret_file) {
    write(tmp_ / "secret-file", *c.secret_file);
    ::setenv("CHAT_JWT_SECRET_FILE", (tmp_ / "secret-file").c_str(), 1);
  }
  if (c.secret_env) ::setenv("CHAT_JWT_SECRET", c.secret_env->c_str(), 1);
  if (c.data_file) {
    fs::create_directory(data_dir());
    write(fs::path(data_dir()) / "jwt-secret", *c.data_file);
  }

  const Result<std::string> secret = resolve_jwt_secret(data_dir());
  if (c.expected) {
    ASSERT_TRUE(secret.ok()) << secret.error().message;
    EXPECT_EQ(*secret, *c.expected);
  } else {
    ASSERT_FALSE(secret.ok()) << "resolved to " << *secret;
    EXPECT_EQ(to_string(secret.error().code), to_string(c.error));
    EXPECT_NE(secret.error().message.find(c.message_contains), std::string::npos)
        << secret.error().message;
    EXPECT_EQ(secret.error().message.find(k31), std::string::npos)
        << "the message must not reveal the secret: " << secret.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(Sources, SecretResolveTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

class SecretFileTest : public SecretTestBase, public testing::Test {
 protected:
  void SetUp() override { set_up(); }
  void TearDown() override { tear_down(); }
};

bool is_lower_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST_F(SecretFileTest, CreatesAPrivateFileOf64HexCharacters) {
  const std::string dir = (tmp_ / "nested" / "data").string();
  SecretSource source;
  const Result<std::string> secret = resolve_jwt_secret(dir, &source);
  ASSERT_TRUE(secret.ok()) << secret.error().message;

  EXPECT_EQ(secret->size(), 64u);
  EXPECT_TRUE(is_lower_hex(*secret)) << *secret;
  const fs::path file = fs::path(dir) / "jwt-secret";
  EXPECT_EQ(read(file), *secret + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_NE(source.description.find(file.string()), std::string::npos) << source.description;
}

TEST_F(SecretFileTest, ReusesTheFileItCreated) {
  const Result<std::string> first = resolve_jwt_secret(data_dir());
  const Result<std::string> second = resolve_jwt_secret(data_dir() + "/");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
}

TEST_F(SecretFileTest, CreatesDistinctSecretsInDistinctDirs) {
  const Result<std::string> a = resolve_jwt_secret((tmp_ / "a").string());
  const Result<std::string> b = resolve_jwt_secret((tmp_ / "b").string());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST_F(SecretFileTest, MissingSecretFileIsAnInternalErrorNamingThePath) {
  const std::string path = (tmp_ / "no-such-file").string();
  ::setenv("CHAT_JWT_SECRET_FILE", path.c_str(), 1);
  const Result<std::string> secret = resolve_jwt_secret(data_dir());
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().code, Errc::internal);
  EXPECT_NE(secret.error().message.find(path), std::string::npos) << secret.error().message;
  EXPECT_NE(secret.error().message.find("No such file"), std::string::npos)
      << secret.error().message;
  EXPECT_FALSE(fs::exists(data_dir())) << "must not fall back to the data dir";
}

// Running as root bypasses file permissions, so a directory stands in for an unreadable file.
TEST_F(SecretFileTest, UnreadableSecretFileIsAnInternalError) {
  ::setenv("CHAT_JWT_SECRET_FILE", tmp_.c_str(), 1);
  const Result<std::string> secret = resolve_jwt_secret(data_dir());
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().code, Errc::internal);
  EXPECT_NE(secret.error().message.find(tmp_.string()), std::string::npos);
}

TEST_F(SecretFileTest, DescribesTheEnvSourceWithoutTheSecret) {
  ::setenv("CHAT_JWT_SECRET", k40b.c_str(), 1);
  SecretSource source;
  ASSERT_TRUE(resolve_jwt_secret(data_dir(), &source).ok());
  EXPECT_EQ(source.description, "env CHAT_JWT_SECRET");
}

}  // namespace
}  // namespace chat::auth
