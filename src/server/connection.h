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
  virtual void deliver(core::OutboundQueue::Frame frame, core::FrameKind kind) = 0;
  virtual void close(uint16_t code, std::string reason) = 0;
  // Stops taking new work, lets in-flight sends finish, then closes with 1001 (going away).
  virtual void shut_down() = 0;
};

}  // namespace chat::server
