#pragma once
// Encoding of the events the server sends on a WebSocket, and of the JSON bodies of the REST API
// (docs/protocol.md). Pure: each function returns the serialized JSON text.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "store/types.h"

namespace chat::protocol {

struct Hello {
  std::string user;
  std::string connection_id;
  std::string node;
  uint64_t last_seq = 0;
  int64_t exp = 0;
};

std::string encode_hello(const Hello& hello);
std::string encode_sent(std::string_view client_id, std::string_view msg_id, uint64_t seq,
                        int64_t ts);
std::string encode_message(const store::InboxEntry& entry);
std::string encode_synced(uint64_t after, uint64_t upto, bool more);
std::string encode_typing(std::string_view from);
std::string encode_refreshed(int64_t exp);
std::string encode_pong();
// The WebSocket error event; `code` is one of the protocol's error codes (see ws_error_code).
std::string encode_ws_error(std::optional<std::string_view> client_id, std::string_view code,
                            std::string_view message);

// REST bodies.
std::string encode_rest_error(std::string_view code, std::string_view message);

struct UserView {
  const store::User& user;
  std::size_t connections = 0;
};
std::string encode_user(const UserView& view);
std::string encode_user_page(const std::vector<UserView>& users,
                             const std::optional<std::string>& next);
std::string encode_history(const std::vector<store::InboxEntry>& entries,
                           std::optional<uint64_t> next_before);
std::string encode_conversations(const std::vector<store::Conversation>& conversations,
                                 std::optional<uint64_t> next_before);
// username, online, connections, last_seen of each: what anyone with a token may see of a user.
std::string encode_presence(const std::vector<UserView>& users);

}  // namespace chat::protocol
