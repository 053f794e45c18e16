#pragma once
// The queue of frames waiting to be written to one WebSocket, with its byte cap. Pure: no I/O.
// Not thread-safe; each connection owns one and uses it from its own strand.
//
// Why a cap: a client that stops reading must not make the server buffer without bound. Ephemeral
// frames (typing) are dropped first; when durable frames alone exceed the cap the connection is to
// be closed (4008): nothing is lost, because every durable frame is an inbox entry the client can
// sync after it reconnects.
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

namespace chat::core {

enum class FrameKind { durable, ephemeral };

class OutboundQueue {
 public:
  using Frame = std::shared_ptr<const std::string>;

  explicit OutboundQueue(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  enum class PushResult { queued, dropped, overflow };

  // Appends a frame. `dropped`: an ephemeral frame did not fit and was discarded. `overflow`: the
  // queue cannot hold its durable frames within the cap; the caller closes the connection.
  PushResult push(Frame frame, FrameKind kind);
  // Puts a frame ahead of all queued ones (the `hello`, which must be first). Not capped.
  void push_front(Frame frame);

  bool empty() const { return items_.empty(); }
  // The frame to write next; it stays counted until pop_front() once the write completed.
  const Frame& front() const { return items_.front().frame; }
  void pop_front();
  void clear();

  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return items_.size(); }

 private:
  struct Item {
    Frame frame;
    FrameKind kind;
  };
  // Drops queued ephemeral frames, except the front one (it may be in the middle of a write).
  void drop_ephemeral();

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::deque<Item> items_;
};

}  // namespace chat::core
