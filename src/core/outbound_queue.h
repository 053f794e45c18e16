#pragma once
// The queue of frames waiting to be written to one WebSocket, with its byte cap. Pure: no I/O.
// Not thread-safe; each connection owns one and uses it from its own strand.
//
// Why a cap: a client that stops reading must not make the server buffer without bound. Ephemeral
// frames (typing) are dropped first; when durable frames alone exceed the cap the connection is to
// be closed (4008): nothing is lost, because every durable frame is an inbox entry the client can
// sync after it reconnects.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

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

  bool empty() const { return head_ == items_.size(); }
  // The frame to write next; it stays counted until pop_front() once the write completed.
  const Frame& front() const { return items_[head_].frame; }
  void pop_front();
  void clear();

  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return items_.size() - head_; }

 private:
  struct Item {
    Frame frame;
    FrameKind kind;
  };
  // Drops queued ephemeral frames, except the front one (it may be in the middle of a write).
  void drop_ephemeral();

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  // items_[head_..] are queued. A vector rather than a deque: an idle connection's queue is empty,
  // and an empty vector owns no memory (a deque allocates a block up front). Emptied, it gives its
  // memory back unless it is small.
  std::vector<Item> items_;
  std::size_t head_ = 0;
};

}  // namespace chat::core
