#include "bus/kafka/event_codec.h"

#include <boost/json.hpp>
#include <cstdint>
#include <limits>

#include "base/overloaded.h"

namespace chat::bus {
namespace json = boost::json;
namespace {

Error malformed(std::string message) {
  return make_error(Errc::bad_request, "bus record: " + std::move(message));
}

// Each reader returns false when the field is missing or of another type.
bool read_string(const json::object& obj, std::string_view key, std::string& out) {
  const json::value* v = obj.if_contains(key);
  const json::string* s = v ? v->if_string() : nullptr;
  if (!s) return false;
  out.assign(s->data(), s->size());
  return true;
}

bool read_uint(const json::object& obj, std::string_view key, uint64_t& out) {
  const json::value* v = obj.if_contains(key);
  if (!v) return false;
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

bool read_int(const json::object& obj, std::string_view key, int64_t& out) {
  const json::value* v = obj.if_contains(key);
  if (!v) return false;
  if (const auto* i = v->if_int64()) {
    out = *i;
    return true;
  }
  if (const auto* u = v->if_uint64()) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(*u);
    return true;
  }
  return false;
}

Result<Event> decode_delivery(const json::object& obj) {
  const json::value* v = obj.if_contains("entry");
  const json::object* e = v ? v->if_object() : nullptr;
  if (!e) return malformed("delivery needs an object \"entry\"");
  store::InboxEntry entry;
  if (!read_string(*e, "owner", entry.owner)) return malformed("entry needs a string \"owner\"");
  if (!read_uint(*e, "seq", entry.seq)) return malformed("entry needs an integer \"seq\" >= 0");
  if (!read_string(*e, "msg_id", entry.msg_id)) return malformed("entry needs a string \"msg_id\"");
  if (!read_string(*e, "from", entry.from)) return malformed("entry needs a string \"from\"");
  if (!read_string(*e, "to", entry.to)) return malformed("entry needs a string \"to\"");
  if (!read_string(*e, "body", entry.body)) return malformed("entry needs a string \"body\"");
  if (!read_int(*e, "ts", entry.ts)) return malformed("entry needs an integer \"ts\"");
  return Event{Delivery{std::move(entry)}};
}

Result<Event> decode_typing(const json::object& obj) {
  Typing typing;
  if (!read_string(obj, "from", typing.from)) return malformed("typing needs a string \"from\"");
  if (!read_string(obj, "to", typing.to)) return malformed("typing needs a string \"to\"");
  return Event{std::move(typing)};
}

Result<Event> decode_user_deleted(const json::object& obj) {
  UserDeleted deleted;
  if (!read_string(obj, "username", deleted.username))
    return malformed("user_deleted needs a string \"username\"");
  return Event{std::move(deleted)};
}

}  // namespace

std::string encode_event(const Event& event) {
  return std::visit(
      Overloaded{
          [](const Delivery& d) {
            const store::InboxEntry& e = d.entry;
            return json::serialize(json::object{{"type", "delivery"},
                                                {"entry", json::object{{"owner", e.owner},
                                                                       {"seq", e.seq},
                                                                       {"msg_id", e.msg_id},
                                                                       {"from", e.from},
                                                                       {"to", e.to},
                                                                       {"body", e.body},
                                                                       {"ts", e.ts}}}});
          },
          [](const Typing& t) {
            return json::serialize(
                json::object{{"type", "typing"}, {"from", t.from}, {"to", t.to}});
          },
          [](const UserDeleted& u) {
            return json::serialize(
                json::object{{"type", "user_deleted"}, {"username", u.username}});
          },
      },
      event);
}

Result<Event> decode_event(std::string_view text) {
  // The body is whatever the store holds; the bus is no place to be stricter about its bytes.
  json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec, {}, options);
  if (ec) return malformed("not JSON (" + ec.message() + ")");
  const json::object* obj = parsed.if_object();
  if (!obj) return malformed("not a JSON object");
  std::string type;
  if (!read_string(*obj, "type", type)) return malformed("no string \"type\"");
  if (type == "delivery") return decode_delivery(*obj);
  if (type == "typing") return decode_typing(*obj);
  if (type == "user_deleted") return decode_user_deleted(*obj);
  return malformed("unknown type \"" + type.substr(0, 64) + "\"");
}

}  // namespace chat::bus
