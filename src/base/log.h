#pragma once
// Line-oriented logging to stderr. Thread-safe: each call writes one whole line.
// Arguments are concatenated with operator<<. Never pass tokens or secrets to these functions.
#include <sstream>
#include <string_view>

namespace chat::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void at(Level level, const Args&... args) {
  if (!enabled(level)) return;
  std::ostringstream out;
  (out << ... << args);
  write(level, out.str());
}

template <typename... Args>
void debug(const Args&... args) {
  at(Level::debug, args...);
}
template <typename... Args>
void info(const Args&... args) {
  at(Level::info, args...);
}
template <typename... Args>
void warn(const Args&... args) {
  at(Level::warn, args...);
}
template <typename... Args>
void error(const Args&... args) {
  at(Level::error, args...);
}

}  // namespace chat::log
