#pragma once
// The node's configuration: every option is a command-line flag and an environment variable
// (CHAT_ + the flag's name in upper snake case); a flag wins over the environment.
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "server/options.h"

namespace chat::app {

struct Config {
  std::string listen = "127.0.0.1:8000";
  std::string data_dir = "./data";
  unsigned threads = 0;  // 0: one per core
  std::string node_id;   // empty: <host name>-<listen port>, stable across restarts
  // PostgreSQL instead of RocksDB when set (postgresql://...).
  std::string database_url;
  // Cluster mode when set (host:port[,...]); needs database_url.
  std::string kafka_brokers;
  std::string kafka_topic_prefix = "chat";
  log::Level log_level = log::Level::info;
  server::ServerOptions server;
};

// What the command line asked for: a configuration to run with, or a text to print and an exit
// code (for --help and for bad options).
struct ParsedArgs {
  std::optional<Config> config;
  std::string output;
  int exit_code = 0;
};

ParsedArgs parse_args(int argc, const char* const argv[]);

}  // namespace chat::app
