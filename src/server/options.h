#pragma once
// The server's limits and time-outs. Filled by app/config from flags and environment.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace chat::server {

struct ServerOptions {
  std::size_t max_message_bytes = 64 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_outbound_bytes = 1024 * 1024;
  std::size_t max_connections_per_user = 32;
  double send_rate = 50;  // frames per second per connection (send and typing)
  double send_burst = 100;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds ping_interval{25'000};
  std::chrono::milliseconds shutdown_timeout{10'000};
  std::chrono::seconds jwt_leeway{30};
  std::vector<std::string> allowed_origins;  // empty: any origin
  std::string api_key;                       // empty: the user API is open
  std::string web_dir = "web/dist";  // the web client's files, served at /
  bool dev_login = false;            // POST /api/dev/v1/token mints tokens for anyone: never in production
  // permessage-deflate (RFC 7692) when the client offers it, without context takeover either way.
  bool permessage_deflate = true;
};

}  // namespace chat::server
