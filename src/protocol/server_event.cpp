#include "protocol/server_event.h"

#include <boost/json.hpp>

namespace chat::protocol {
namespace json = boost::json;
namespace {

// The hot events (`message`, `sent`) are built in a stack buffer: the output string is their one
// allocation.
constexpr std::size_t kScratchBytes = 1024;

json::object message_fields(const store::InboxEntry& e, json::storage_ptr sp = {}) {
  return json::object({{"seq", e.seq},
                       {"msg_id", e.msg_id},
                       {"from", e.from},
                       {"to", e.to},
                       {"body", e.body},
                       {"ts", e.ts}},
                      std::move(sp));
}

json::value nullable(const std::optional<int64_t>& n) {
  return n ? json::value(*n) : json::value(nullptr);
}

json::object presence_object(const UserView& view) {
  return json::object{{"username", view.user.username},
                      {"online", view.connections > 0},
                      {"connections", view.connections},
                      {"last_seen", nullable(view.user.last_seen)}};
}

json::object user_object(const UserView& view) {
  return json::object{{"username", view.user.username},
                      {"created_at", view.user.created_at},
                      {"online", view.connections > 0},
                      {"connections", view.connections},
                      {"last_seen", nullable(view.user.last_seen)}};
}

json::value nullable(const std::optional<uint64_t>& n) {
  return n ? json::value(*n) : json::value(nullptr);
}

}  // namespace

std::string encode_hello(const Hello& h) {
  return json::serialize(json::object{{"type", "hello"},
                                      {"user", h.user},
                                      {"connection_id", h.connection_id},
                                      {"node", h.node},
                                      {"last_seq", h.last_seq},
                                      {"exp", h.exp}});
}

std::string encode_sent(std::string_view client_id, std::string_view msg_id, uint64_t seq,
                        int64_t ts) {
  unsigned char scratch[kScratchBytes];
  json::monotonic_resource mr(scratch, sizeof scratch);
  return json::serialize(json::object(
      {{"type", "sent"}, {"id", client_id}, {"msg_id", msg_id}, {"seq", seq}, {"ts", ts}}, &mr));
}

std::string encode_message(const store::InboxEntry& entry) {
  unsigned char scratch[kScratchBytes];
  json::monotonic_resource mr(scratch, sizeof scratch);
  json::object obj = message_fields(entry, &mr);
  obj.emplace("type", "message");
  return json::serialize(obj);
}

std::string encode_synced(uint64_t after, uint64_t upto, bool more) {
  return json::serialize(
      json::object{{"type", "synced"}, {"after", after}, {"upto", upto}, {"more", more}});
}

std::string encode_typing(std::string_view from) {
  return json::serialize(json::object{{"type", "typing"}, {"from", from}});
}

std::string encode_refreshed(int64_t exp) {
  return json::serialize(json::object{{"type", "refreshed"}, {"exp", exp}});
}

std::string encode_pong() { return R"({"type":"pong"})"; }

std::string encode_ws_error(std::optional<std::string_view> client_id, std::string_view code,
                            std::string_view message) {
  json::object obj{{"type", "error"}, {"code", code}, {"message", message}};
  if (client_id) obj["id"] = *client_id;
  return json::serialize(obj);
}

std::string encode_rest_error(std::string_view code, std::string_view message) {
  return json::serialize(
      json::object{{"error", json::object{{"code", code}, {"message", message}}}});
}

std::string encode_user(const UserView& view) { return json::serialize(user_object(view)); }

std::string encode_user_page(const std::vector<UserView>& users,
                             const std::optional<std::string>& next) {
  json::array list;
  list.reserve(users.size());
  for (const auto& u : users) list.push_back(user_object(u));
  json::object obj{{"users", std::move(list)}};
  if (next)
    obj["next"] = *next;
  else
    obj["next"] = nullptr;
  return json::serialize(obj);
}

std::string encode_history(const std::vector<store::InboxEntry>& entries,
                           std::optional<uint64_t> next_before) {
  json::array list;
  list.reserve(entries.size());
  for (const auto& e : entries) list.push_back(message_fields(e));
  return json::serialize(
      json::object{{"messages", std::move(list)}, {"next_before", nullable(next_before)}});
}

std::string encode_conversations(const std::vector<store::Conversation>& conversations,
                                 std::optional<uint64_t> next_before) {
  json::array list;
  list.reserve(conversations.size());
  for (const auto& c : conversations) {
    list.push_back(json::object{{"with", c.peer}, {"last", message_fields(c.last)}});
  }
  return json::serialize(
      json::object{{"conversations", std::move(list)}, {"next_before", nullable(next_before)}});
}

std::string encode_presence(const std::vector<UserView>& users) {
  json::array list;
  list.reserve(users.size());
  for (const auto& u : users) list.push_back(presence_object(u));
  return json::serialize(json::object{{"users", std::move(list)}});
}

}  // namespace chat::protocol
