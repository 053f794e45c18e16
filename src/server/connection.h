#pragma once
// What the delivery side needs of one live WebSocket connection. Every method is thread-safe:
// implementations hand the call over to the connection's own executor and return at once.
#include <cstdint>
#include <memory>
#include <string>

#include "core/outbound_queue.h"

namespace chat::server {

class Connection {
 public:
  virtual ~Connection() = default;
  // The inbox entry `seq` of the connection's user, already encoded as a `message` frame. A
  // connection passes on each entry once and in seq order: it drops an entry it has already
  // given, and fills a gap from the store before a newer entry goes out.
  virtual void deliver_entry(uint64_t seq, core::OutboundQueue::Frame frame) = 0;
  // An ephemeral frame (typing): dropped first when the outbound queue is full.
  virtual void deliver(core::OutboundQueue::Frame frame) = 0;
  // The user's inbox head is `head`: send from the store whatever this connection lacks up to it.
  virtual void catch_up(uint64_t head) = 0;
  virtual void close(uint16_t code, std::string reason) = 0;
  // Stops taking new work, lets in-flight sends finish, then closes with 1001 (going away).
  virtual void shut_down() = 0;
};

}  // namespace chat::server
