#include "app/config.h"

#include <boost/program_options.hpp>
#include <cctype>
#include <cstdlib>
#include <sstream>

namespace chat::app {
namespace po = boost::program_options;
namespace {

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

Result<log::Level> parse_level(const std::string& text) {
  if (text == "debug") return log::Level::debug;
  if (text == "info") return log::Level::info;
  if (text == "warn") return log::Level::warn;
  if (text == "error") return log::Level::error;
  return make_error(Errc::bad_request, "--log-level must be debug, info, warn or error");
}

// CHAT_SEND_RATE -> send-rate, for the options this program knows; others are ignored.
std::string env_to_option(const po::options_description& desc, const std::string& env) {
  constexpr std::string_view kPrefix = "CHAT_";
  if (env.rfind(kPrefix, 0) != 0) return {};
  std::string name = env.substr(kPrefix.size());
  for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  if (name == "help") return {};
  return desc.find_nothrow(name, false) ? name : std::string{};
}

}  // namespace

ParsedArgs parse_args(int argc, const char* const argv[]) {
  Config c;
  const server::ServerOptions d;
  double handshake = 10, idle = 60, ping = 25, shutdown = 10, leeway = 30;
  std::string origins, level = "info";
  po::options_description desc(
      "chat-engine: a WebSocket chat server with a durable per-user inbox\n\n"
      "Every option can also be set as an environment variable: CHAT_ and the name in upper\n"
      "snake case (--send-rate -> CHAT_SEND_RATE). The JWT secret comes from\n"
      "CHAT_JWT_SECRET_FILE, else CHAT_JWT_SECRET, else <data-dir>/jwt-secret (created when\n"
      "missing). CHAT_API_KEY, when set, protects the user API (header X-API-Key).\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("listen", po::value(&c.listen)->default_value(c.listen), "address and port to serve on")
    ("data-dir", po::value(&c.data_dir)->default_value(c.data_dir), "where the store and the generated JWT secret live")
    ("threads", po::value(&c.threads)->default_value(0), "I/O threads; 0 = one per core this process may use")
    ("node-id", po::value(&c.node_id), "this instance's name, unique in a cluster: its Kafka topic and hello.node (default: <host name>-<listen port>)")
    ("database-url", po::value(&c.database_url), "postgresql://user:password@host:port/db: keep users and inboxes in PostgreSQL instead of RocksDB in --data-dir")
    ("kafka-brokers", po::value(&c.kafka_brokers), "host:port[,host:port]: cluster mode, instances exchange live events over Apache Kafka (needs --database-url)")
    ("kafka-topic-prefix", po::value(&c.kafka_topic_prefix)->default_value(c.kafka_topic_prefix), "each instance reads the topic <prefix>.node.<node-id>")
    ("web-dir", po::value(&c.server.web_dir)->default_value(d.web_dir), "the web client's files, served at / (read at start-up; when missing, / answers 404)")
    ("dev-login", po::value(&c.server.dev_login)->default_value(false)->implicit_value(true), "local development only: POST /api/dev/v1/token creates any user and mints a token for it, with no credential")
    ("allowed-origins", po::value(&origins), "comma-separated Origins allowed to open a WebSocket (unset: any)")
    ("max-message-bytes", po::value(&c.server.max_message_bytes)->default_value(d.max_message_bytes), "largest WebSocket message accepted; larger closes with 1009")
    ("max-outbound-bytes", po::value(&c.server.max_outbound_bytes)->default_value(d.max_outbound_bytes), "per-connection outbound queue cap; over it the connection closes with 4008")
    ("max-connections-per-user", po::value(&c.server.max_connections_per_user)->default_value(d.max_connections_per_user), "open WebSockets per user; more are refused with 429")
    ("send-rate", po::value(&c.server.send_rate)->default_value(d.send_rate), "sends and typing events per second per connection (token bucket rate)")
    ("send-burst", po::value(&c.server.send_burst)->default_value(d.send_burst), "token bucket size")
    ("handshake-timeout", po::value(&handshake)->default_value(handshake), "seconds to complete an HTTP request or a WebSocket (closing) handshake")
    ("idle-timeout", po::value(&idle)->default_value(idle), "seconds without any frame from a client before it is disconnected")
    ("ping-interval", po::value(&ping)->default_value(ping), "seconds between server pings")
    ("permessage-deflate", po::value(&c.server.permessage_deflate)->default_value(d.permessage_deflate), "compress WebSocket messages (RFC 7692, no context takeover) when the client offers it; false or 0 turns it off")
    ("jwt-leeway", po::value(&leeway)->default_value(leeway), "seconds of clock skew allowed for exp and nbf")
    ("shutdown-timeout", po::value(&shutdown)->default_value(shutdown), "seconds a SIGTERM may take before the process exits")
    ("log-level", po::value(&level)->default_value(level), "debug, info, warn or error");
  // clang-format on

  ParsedArgs out;
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::store(po::parse_environment(
                  desc, [&desc](const std::string& env) { return env_to_option(desc, env); }),
              vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << desc << "\n";
      out.output = text.str();
      return out;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    out.output = std::string("chat-engine: ") + e.what() + "\nTry --help.\n";
    out.exit_code = 2;
    return out;
  }
  auto parsed_level = parse_level(level);
  if (!parsed_level) {
    out.output = "chat-engine: " + parsed_level.error().message + "\n";
    out.exit_code = 2;
    return out;
  }
  if (c.server.send_rate <= 0 || c.server.send_burst < 1 || ping <= 0 || idle <= 0 ||
      handshake <= 0 || shutdown <= 0 || leeway < 0 || c.server.max_connections_per_user < 1 ||
      c.server.max_message_bytes < 1 || c.server.max_outbound_bytes < 1) {
    out.output = "chat-engine: limits and time-outs must be positive\n";
    out.exit_code = 2;
    return out;
  }
  if (!c.kafka_brokers.empty() && c.database_url.empty()) {
    out.output =
        "chat-engine: --kafka-brokers (cluster mode) needs --database-url: the instances of a "
        "cluster share their users and inboxes in PostgreSQL\n";
    out.exit_code = 2;
    return out;
  }
  if (!c.database_url.empty() && c.database_url.rfind("postgresql://", 0) != 0 &&
      c.database_url.rfind("postgres://", 0) != 0) {
    out.output = "chat-engine: --database-url must be a postgresql:// URL\n";
    out.exit_code = 2;
    return out;
  }
  if (c.kafka_topic_prefix.empty()) {
    out.output = "chat-engine: --kafka-topic-prefix must not be empty\n";
    out.exit_code = 2;
    return out;
  }
  c.log_level = *parsed_level;
  c.server.allowed_origins = split_list(origins);
  c.server.handshake_timeout = seconds_to_ms(handshake);
  c.server.idle_timeout = seconds_to_ms(idle);
  c.server.ping_interval = seconds_to_ms(ping);
  c.server.shutdown_timeout = seconds_to_ms(shutdown);
  c.server.jwt_leeway = std::chrono::seconds(static_cast<int64_t>(leeway));
  if (const char* key = std::getenv("CHAT_API_KEY")) c.server.api_key = key;
  out.config = std::move(c);
  return out;
}

}  // namespace chat::app
