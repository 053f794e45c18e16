#include "protocol/client_frame.h"

#include <boost/json.hpp>

#include "protocol/validation.h"

namespace chat::protocol {
namespace json = boost::json;
namespace {

DecodedFrame refuse(std::string message, std::optional<std::string> id = std::nullopt) {
  return DecodedFrame{std::nullopt, std::move(id), std::move(message)};
}

const json::string* string_field(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v ? v->if_string() : nullptr;
}

// Reads an optional non-negative integer field. Returns false when present but not one.
bool read_count(const json::object& obj, std::string_view key, uint64_t& out) {
  const json::value* v = obj.if_contains(key);
  if (!v) return true;
  if (const auto* i = v->if_int64()) {
    if (*i < 0) return false;
    out = static_cast<uint64_t>(*i);
    return true;
  }
  if (const auto* u = v->if_uint64()) {
    out = *u;
    return true;
  }
  return false;
}

DecodedFrame decode_send(const json::object& obj) {
  const json::string* id = string_field(obj, "id");
  if (!id) return refuse("send needs a string \"id\"");
  std::string client_id(*id);
  if (client_id.empty() || client_id.size() > kMaxClientIdLength)
    return refuse("\"id\" must be 1-64 characters", client_id);
  const json::string* to = string_field(obj, "to");
  if (!to || !is_valid_username(*to))
    return refuse("\"to\" must be a username of 1-64 characters [A-Za-z0-9_.-]", client_id);
  const json::string* body = string_field(obj, "body");
  if (!body) return refuse("send needs a string \"body\"", client_id);
  if (body->empty()) return refuse("\"body\" must not be empty", client_id);
  return DecodedFrame{SendFrame{client_id, std::string(*to), std::string(*body)}, client_id, {}};
}

DecodedFrame decode_sync(const json::object& obj) {
  SyncFrame frame;
  if (!read_count(obj, "after", frame.after)) return refuse("\"after\" must be an integer >= 0");
  uint64_t limit = kDefaultSyncLimit;
  if (!read_count(obj, "limit", limit) || limit < 1 || limit > kMaxSyncLimit)
    return refuse("\"limit\" must be an integer from 1 to 1000");
  frame.limit = static_cast<int>(limit);
  return DecodedFrame{frame, std::nullopt, {}};
}

DecodedFrame decode_typing(const json::object& obj) {
  const json::string* to = string_field(obj, "to");
  if (!to || !is_valid_username(*to))
    return refuse("\"to\" must be a username of 1-64 characters [A-Za-z0-9_.-]");
  return DecodedFrame{TypingFrame{std::string(*to)}, std::nullopt, {}};
}

DecodedFrame decode_refresh(const json::object& obj) {
  const json::string* token = string_field(obj, "token");
  if (!token || token->empty()) return refuse("refresh needs a string \"token\"");
  return DecodedFrame{RefreshFrame{std::string(*token)}, std::nullopt, {}};
}

}  // namespace

DecodedFrame decode_client_frame(std::string_view text) {
  boost::system::error_code ec;
  // Most frames are a few hundred bytes: their parsed form fits in a stack buffer.
  unsigned char scratch[2048];
  json::monotonic_resource mr(scratch, sizeof scratch);
  json::value parsed = json::parse(text, ec, &mr);
  if (ec) return refuse("frame is not valid JSON");
  const json::object* obj = parsed.if_object();
  if (!obj) return refuse("frame must be a JSON object");
  const json::string* type = string_field(*obj, "type");
  if (!type) return refuse("frame needs a string \"type\"");
  if (*type == "send") return decode_send(*obj);
  if (*type == "sync") return decode_sync(*obj);
  if (*type == "typing") return decode_typing(*obj);
  if (*type == "refresh") return decode_refresh(*obj);
  if (*type == "ping") return DecodedFrame{PingFrame{}, std::nullopt, {}};
  return refuse("unknown frame type");
}

}  // namespace chat::protocol
