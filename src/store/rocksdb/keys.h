#pragma once
// The key layout of RocksStore: every record in one key space, the first byte naming its table.
// Owner and peer names are followed by '\0', which no username contains ([A-Za-z0-9_.-]), so one
// user's keys never run into another's ("bob" and "bobby"), and numbers are 8 bytes big-endian, so
// byte order is numeric order. Pure: no RocksDB types.
//
//   u<name>                  -> created_at, [last_seen]        a user
//   m<number>                -> ts, msg_id, from, to, body     a message, once whatever its copies
//   e<owner>\0<seq>          -> number                         an inbox entry
//   p<owner>\0<peer>\0<seq>  -> number                         history index
//   k<from>\0<client_id>     -> sender_seq, ts, msg_id         idempotency key
//
// Messages are numbered by the writer in commit order, so that new bodies are appended at the end
// of their table (cheap to insert) and a user's recent messages lie near each other (cheap to
// read).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chat::store::rocks::keys {

inline constexpr char kUser = 'u';
inline constexpr char kMessage = 'm';
inline constexpr char kEntry = 'e';
inline constexpr char kPeerEntry = 'p';
inline constexpr char kSendKey = 'k';

void put_u64(std::string& out, uint64_t value);  // big-endian
uint64_t get_u64(std::string_view bytes);        // the first 8 bytes, big-endian

std::string user(std::string_view name);
std::string message(uint64_t number);
// The number a message key or an entry's value holds.
uint64_t number_of(std::string_view bytes);
std::string entry(std::string_view owner, uint64_t seq);
std::string peer_entry(std::string_view owner, std::string_view peer, uint64_t seq);
std::string send_key(std::string_view from, std::string_view client_id);

// Every key of one table that belongs to `owner`: "<table><owner>\0", and the first key past them.
std::string owner_prefix(char table, std::string_view owner);
// The first key after every key that starts with `prefix` (whose last byte is not 0xff).
std::string prefix_end(std::string prefix);

// The seq at the end of an entry or peer_entry key.
uint64_t seq_of(std::string_view key);

struct UserRecord {
  int64_t created_at = 0;
  std::optional<int64_t> last_seen;
};
std::string encode(const UserRecord& user);
std::optional<UserRecord> decode_user(std::string_view value);

struct MessageRecord {
  int64_t ts = 0;
  std::string msg_id;
  std::string from;
  std::string to;
  std::string body;
};
void encode_message(std::string& out, int64_t ts, std::string_view msg_id, std::string_view from,
                    std::string_view to, std::string_view body);
std::optional<MessageRecord> decode_message(std::string_view value);

struct SendKeyRecord {
  uint64_t sender_seq = 0;
  int64_t ts = 0;
  std::string msg_id;
};
std::string encode(const SendKeyRecord& sent);
std::optional<SendKeyRecord> decode_send_key(std::string_view value);

}  // namespace chat::store::rocks::keys
