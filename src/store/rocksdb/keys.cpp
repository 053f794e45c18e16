#include "store/rocksdb/keys.h"

namespace chat::store::rocks::keys {
namespace {

void put_name(std::string& out, std::string_view name) {
  out.append(name);
  out.push_back('\0');
}

// Names in a message record: a 2-byte length, then the bytes.
void put_short(std::string& out, std::string_view text) {
  out.push_back(static_cast<char>((text.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(text.size() & 0xff));
  out.append(text);
}

bool take_short(std::string_view& in, std::string& out) {
  if (in.size() < 2) return false;
  const std::size_t n = (static_cast<std::size_t>(static_cast<unsigned char>(in[0])) << 8) |
                        static_cast<unsigned char>(in[1]);
  if (in.size() < 2 + n) return false;
  out.assign(in.substr(2, n));
  in.remove_prefix(2 + n);
  return true;
}

}  // namespace

void put_u64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t get_u64(std::string_view bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string user(std::string_view name) {
  std::string key(1, kUser);
  key.append(name);
  return key;
}

std::string message(uint64_t number) {
  std::string key(1, kMessage);
  put_u64(key, number);
  return key;
}

uint64_t number_of(std::string_view bytes) {
  return bytes.size() < 8 ? 0 : get_u64(bytes.substr(bytes.size() - 8));
}

std::string entry(std::string_view owner, uint64_t seq) {
  std::string key;
  key.reserve(owner.size() + 10);
  key.push_back(kEntry);
  put_name(key, owner);
  put_u64(key, seq);
  return key;
}

std::string peer_entry(std::string_view owner, std::string_view peer, uint64_t seq) {
  std::string key;
  key.reserve(owner.size() + peer.size() + 11);
  key.push_back(kPeerEntry);
  put_name(key, owner);
  put_name(key, peer);
  put_u64(key, seq);
  return key;
}

std::string send_key(std::string_view from, std::string_view client_id) {
  std::string key(1, kSendKey);
  put_name(key, from);
  key.append(client_id);
  return key;
}

std::string owner_prefix(char table, std::string_view owner) {
  std::string key(1, table);
  put_name(key, owner);
  return key;
}

std::string prefix_end(std::string prefix) {
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

uint64_t seq_of(std::string_view key) {
  return key.size() < 8 ? 0 : get_u64(key.substr(key.size() - 8));
}

std::string encode(const UserRecord& user) {
  std::string value;
  put_u64(value, static_cast<uint64_t>(user.created_at));
  if (user.last_seen) put_u64(value, static_cast<uint64_t>(*user.last_seen));
  return value;
}

std::optional<UserRecord> decode_user(std::string_view value) {
  if (value.size() != 8 && value.size() != 16) return std::nullopt;
  UserRecord user{static_cast<int64_t>(get_u64(value)), std::nullopt};
  if (value.size() == 16) user.last_seen = static_cast<int64_t>(get_u64(value.substr(8)));
  return user;
}

void encode_message(std::string& out, int64_t ts, std::string_view msg_id, std::string_view from,
                    std::string_view to, std::string_view body) {
  out.reserve(out.size() + 14 + msg_id.size() + from.size() + to.size() + body.size());
  put_u64(out, static_cast<uint64_t>(ts));
  put_short(out, msg_id);
  put_short(out, from);
  put_short(out, to);
  out.append(body);
}

std::optional<MessageRecord> decode_message(std::string_view value) {
  if (value.size() < 8) return std::nullopt;
  MessageRecord message;
  message.ts = static_cast<int64_t>(get_u64(value));
  value.remove_prefix(8);
  if (!take_short(value, message.msg_id) || !take_short(value, message.from) ||
      !take_short(value, message.to)) {
    return std::nullopt;
  }
  message.body.assign(value);
  return message;
}

std::string encode(const SendKeyRecord& sent) {
  std::string value;
  value.reserve(16 + sent.msg_id.size());
  put_u64(value, sent.sender_seq);
  put_u64(value, static_cast<uint64_t>(sent.ts));
  value.append(sent.msg_id);
  return value;
}

std::optional<SendKeyRecord> decode_send_key(std::string_view value) {
  if (value.size() < 16) return std::nullopt;
  return SendKeyRecord{get_u64(value), static_cast<int64_t>(get_u64(value.substr(8))),
                       std::string(value.substr(16))};
}

}  // namespace chat::store::rocks::keys
