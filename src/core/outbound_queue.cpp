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
  if (head_ >= 16 && head_ * 2 >= items_.size()) {
    // A queue that never empties: drop the written slots at the front (amortised O(1)).
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  items_.push_back(Item{std::move(frame), kind});
  return PushResult::queued;
}

namespace {
// Kept when the queue empties: enough for the usual burst without a new allocation each time.
constexpr std::size_t kKeptCapacity = 4;
}  // namespace

void OutboundQueue::push_front(Frame frame) {
  bytes_ += frame->size();
  if (head_ > 0) {
    items_[--head_] = Item{std::move(frame), FrameKind::durable};
  } else {
    items_.insert(items_.begin(), Item{std::move(frame), FrameKind::durable});
  }
}

void OutboundQueue::pop_front() {
  Item& item = items_[head_++];
  bytes_ -= item.frame->size();
  item.frame.reset();
  if (empty()) clear();
}

void OutboundQueue::clear() {
  if (items_.capacity() > kKeptCapacity) {
    std::vector<Item>().swap(items_);
  } else {
    items_.clear();
  }
  head_ = 0;
  bytes_ = 0;
}

void OutboundQueue::drop_ephemeral() {
  if (size() < 2) return;
  auto first_droppable = items_.begin() + static_cast<std::ptrdiff_t>(head_) + 1;
  auto kept = std::stable_partition(first_droppable, items_.end(), [](const Item& item) {
    return item.kind == FrameKind::durable;
  });
  for (auto it = kept; it != items_.end(); ++it) bytes_ -= it->frame->size();
  items_.erase(kept, items_.end());
}

}  // namespace chat::core
