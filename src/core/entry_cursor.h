#pragma once
// Where one connection stands in its user's inbox: the highest seq it has given its client.
// Entries reach a connection by several paths (in-process, Kafka, the catch-up), in any order and
// possibly twice; the cursor decides what to do with each so that the client sees every entry
// once, in seq order. Pure. The owner (a session, on its strand) is the only writer; delivered()
// may be read from any thread, to skip needless hand-offs.
#include <atomic>
#include <cstdint>

namespace chat::core {

class EntryCursor {
 public:
  enum class Step {
    drop_before_head,  // the head is not known yet: the entry was committed before it is read,
                       // so the head covers it and the client syncs it
    drop_repeat,       // the client already has it
    pass,              // the next one: send it and advance()
    fill_gap,          // entries before it are missing: read them from the store first
  };

  // The inbox head when the connection registered (hello.last_seq).
  void start(uint64_t head) {
    started_ = true;
    delivered_.store(head, std::memory_order_relaxed);
  }
  bool started() const { return started_; }
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }

  Step on_entry(uint64_t seq) const {
    if (!started_) return Step::drop_before_head;
    const uint64_t delivered = this->delivered();
    if (seq <= delivered) return Step::drop_repeat;
    return seq == delivered + 1 ? Step::pass : Step::fill_gap;
  }
  // The client has been given everything up to `seq` (a passed entry, a filled gap, a sync
  // answer). Never moves back.
  void advance(uint64_t seq) {
    if (started_ && seq > delivered()) delivered_.store(seq, std::memory_order_relaxed);
  }

 private:
  bool started_ = false;
  std::atomic<uint64_t> delivered_{0};
};

}  // namespace chat::core
