#pragma once
// Plain records the stores read and write.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chat::store {

struct User {
  std::string username;
  int64_t created_at = 0;            // unix ms
  std::optional<int64_t> last_seen;  // unix ms of the last connect or disconnect, if any
};

struct UserPage {
  std::vector<User> users;          // ordered by username
  std::optional<std::string> next;  // pass as `after` to get the next page
};

// One entry of one user's inbox. A message from A to B is one entry in B's inbox and one in A's
// (a single entry when A == B), both with the same msg_id.
struct InboxEntry {
  std::string owner;  // whose inbox
  uint64_t seq = 0;   // gapless, from 1, per owner
  std::string msg_id;
  std::string from;
  std::string to;
  std::string body;
  int64_t ts = 0;  // unix ms when the message was accepted
};

// One conversation of an inbox's owner: the other party (the owner itself for notes to self) and
// the latest entry exchanged with them.
struct Conversation {
  std::string peer;
  InboxEntry last;
};

struct SendRequest {
  std::string from;
  std::string client_id;  // the sender's idempotency key ("id" in the protocol)
  std::string to;
  std::string body;
  std::string msg_id;  // assigned by the caller; kept only if this is not a duplicate
  int64_t ts = 0;      // unix ms
};

struct SendResult {
  bool duplicate = false;   // the (from, client_id) pair was seen before: nothing was stored
  std::string msg_id;       // the original message's id when duplicate
  uint64_t sender_seq = 0;  // the entry's seq in the sender's inbox
  int64_t ts = 0;
  std::vector<InboxEntry>
      entries;  // what was stored (empty when duplicate): recipient's, then sender's
  // routes[i]: the live instances (node ids, this one included if it qualifies) that held
  // connections of entries[i].owner when the append committed, read inside the append's
  // transaction. Empty (no vectors at all) from a store without a routing registry: one node
  // delivers in-process only.
  std::vector<std::vector<std::string>> routes;
};

}  // namespace chat::store
