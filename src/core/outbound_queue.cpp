#include "core/outbound_queue.h"

#include <algorithm>

namespace chat::core {

OutboundQueue::PushResult OutboundQueue::push(Frame frame, FrameKind kind) {
  const std::size_t size = frame->size();
  if (bytes_ + size > max_bytes_) {
    if (kind == FrameKind::ephemeral) return PushResult::dropped;
    drop_ephemeral();
    if (bytes_ + size > max_bytes_) return PushResult::overflow;
  }
  bytes_ += size;
  items_.push_back(Item{std::move(frame), kind});
  return PushResult::queued;
}

void OutboundQueue::push_front(Frame frame) {
  bytes_ += frame->size();
  items_.push_front(Item{std::move(frame), FrameKind::durable});
}

void OutboundQueue::pop_front() {
  bytes_ -= items_.front().frame->size();
  items_.pop_front();
}

void OutboundQueue::clear() {
  items_.clear();
  bytes_ = 0;
}

void OutboundQueue::drop_ephemeral() {
  if (items_.size() < 2) return;
  auto first_droppable = std::next(items_.begin());
  auto kept = std::stable_partition(first_droppable, items_.end(), [](const Item& item) {
    return item.kind == FrameKind::durable;
  });
  for (auto it = kept; it != items_.end(); ++it) bytes_ -= it->frame->size();
  items_.erase(kept, items_.end());
}

}  // namespace chat::core
