#include "server/static_files.h"

#include <fstream>
#include <iterator>
#include <system_error>

namespace chat::server {
namespace {

std::string content_type_of(const std::filesystem::path& file) {
  static const std::unordered_map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".webmanifest", "application/manifest+json"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  auto it = kTypes.find(file.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace

Result<StaticFiles> StaticFiles::load(const std::filesystem::path& dir) {
  StaticFiles out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  std::size_t total = 0;
  auto fail = [&dir](const std::string& what) {
    return make_error(Errc::internal, "web files in " + dir.string() + ": " + what);
  };
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return fail("cannot read " + it->path().string());
    total += body.size();
    if (total > kMaxBytes) return fail("more than 64 MiB");
    std::string path(1, '/');
    path += std::filesystem::relative(it->path(), dir).generic_string();
    out.files_.emplace(path, File{content_type_of(it->path()), std::move(body)});
  }
  if (ec) return fail(ec.message());
  return out;
}

const StaticFiles::File* StaticFiles::find(std::string_view path) const {
  if (path == "/") path = "/index.html";
  auto it = files_.find(std::string(path));
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace chat::server
