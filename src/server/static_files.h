#pragma once
// The web client's files (web/dist, docs/operations.md), read into memory once at start-up and
// served at `/`. Only the files found then are ever served: no path from a request reaches the
// file system, so there is nothing to traverse.
//
// Immutable after load(); safe for concurrent use.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"

namespace chat::server {

class StaticFiles {
 public:
  struct File {
    std::string content_type;
    std::string body;
  };
  static constexpr std::size_t kMaxBytes = 64 * 1024 * 1024;

  // Every regular file under `dir`, by its path below it ("/index.html", "/assets/app.js").
  // Empty when `dir` does not exist; an error when it cannot be read or holds over kMaxBytes.
  static Result<StaticFiles> load(const std::filesystem::path& dir);

  // The file a request path names; "/" is "/index.html". Null when there is none.
  const File* find(std::string_view path) const;
  bool empty() const { return files_.empty(); }
  std::size_t size() const { return files_.size(); }

 private:
  std::unordered_map<std::string, File> files_;
};

}  // namespace chat::server
