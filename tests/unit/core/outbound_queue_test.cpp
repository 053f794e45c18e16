#include "core/outbound_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace chat::core {
namespace {

using Result = OutboundQueue::PushResult;
constexpr FrameKind D = FrameKind::durable;
constexpr FrameKind E = FrameKind::ephemeral;

// A frame of exactly `size` bytes that starts with its label, so the queue's order can be read
// back. Labels are short; sizes in the tables are all at least 10.
OutboundQueue::Frame frame(const std::string& label, std::size_t size) {
  std::string text = label + ":";
  text.resize(size, '.');
  return std::make_shared<const std::string>(std::move(text));
}

std::string label_of(const std::string& text) { return text.substr(0, text.find(':')); }

std::string to_string(Result r) {
  switch (r) {
    case Result::queued:
      return "queued";
    case Result::dropped:
      return "dropped";
    case Result::overflow:
      return "overflow";
  }
  return "?";
}

struct Op {
  enum { push, push_front, pop_front, clear } what;
  FrameKind kind = D;
  std::string label;
  std::size_t size = 0;
  Result expected = Result::queued;
};

Op push(FrameKind kind, std::string label, std::size_t size, Result expected) {
  return {Op::push, kind, std::move(label), size, expected};
}
Op push_front(std::string label, std::size_t size) {
  return {Op::push_front, D, std::move(label), size, Result::queued};
}
Op pop() { return {Op::pop_front, D, "", 0, Result::queued}; }
Op clear() { return {Op::clear, D, "", 0, Result::queued}; }

struct Case {
  std::string name;
  std::size_t max_bytes;
  std::vector<Op> ops;
  std::vector<std::string> left;  // labels still queued, front first
  std::size_t bytes;              // what they add up to
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  using R = Result;
  return {
      {"CountsTheBytesOfQueuedFrames",
       1000,
       {push(D, "a", 10, R::queued), push(E, "b", 20, R::queued), push(D, "c", 30, R::queued)},
       {"a", "b", "c"},
       60},
      {"PopFrontUncountsTheFrontFrame",
       1000,
       {push(D, "a", 10, R::queued), push(D, "b", 20, R::queued), pop()},
       {"b"},
       20},
      {"ClearEmptiesTheQueueAndItsBytes",
       1000,
       {push(D, "a", 10, R::queued), push(E, "b", 20, R::queued), clear()},
       {},
       0},
      {"ClearFreesTheWholeCapForNewFrames",
       100,
       {push(D, "a", 100, R::queued), clear(), push(D, "b", 100, R::queued)},
       {"b"},
       100},

      {"QueuesAnEphemeralFrameThatFillsTheCapExactly",
       100,
       {push(D, "a", 60, R::queued), push(E, "t", 40, R::queued)},
       {"a", "t"},
       100},
      {"DropsAnEphemeralFrameOneByteOverTheCap",
       100,
       {push(D, "a", 60, R::queued), push(E, "t", 41, R::dropped)},
       {"a"},
       60},
      {"DropsOnlyTheNewEphemeralFrameNotQueuedOnes",
       100,
       {push(E, "t1", 50, R::queued), push(E, "t2", 40, R::queued), push(E, "t3", 20, R::dropped)},
       {"t1", "t2"},
       90},
      {"DropsAnEphemeralFrameLargerThanTheCapOnAnEmptyQueue",
       100,
       {push(E, "t", 101, R::dropped)},
       {},
       0},

      {"QueuesADurableFrameThatFillsTheCapExactly",
       100,
       {push(D, "a", 60, R::queued), push(D, "b", 40, R::queued)},
       {"a", "b"},
       100},
      {"DurableFrameOverTheCapDropsQueuedEphemeralFramesToFit",
       100,
       {push(D, "a", 30, R::queued), push(E, "t1", 30, R::queued), push(D, "b", 20, R::queued),
        push(E, "t2", 20, R::queued), push(D, "c", 40, R::queued)},
       {"a", "b", "c"},
       90},
      {"DurableFrameOverTheCapNeverDropsTheFrontFrameMidWrite",
       100,
       {push(E, "t1", 40, R::queued), push(E, "t2", 40, R::queued), push(D, "a", 50, R::queued)},
       {"t1", "a"},
       90},
      {"DurableFrameOverflowsWhenTheFrontEphemeralFrameLeavesNoRoom",
       100,
       {push(E, "t1", 60, R::queued), push(E, "t2", 30, R::queued), push(D, "a", 50, R::overflow)},
       {"t1"},
       60},
      {"DurableFrameOverflowsWhenDurableFramesAloneExceedTheCap",
       100,
       {push(D, "a", 50, R::queued), push(E, "t", 20, R::queued), push(D, "b", 30, R::queued),
        push(D, "c", 21, R::overflow)},
       {"a", "b"},
       80},
      {"DurableFrameLargerThanTheCapOverflowsAnEmptyQueue",
       100,
       {push(D, "a", 101, R::overflow)},
       {},
       0},
      {"DurableFrameDropsNothingWhenItFits",
       100,
       {push(E, "t1", 30, R::queued), push(E, "t2", 30, R::queued), push(D, "a", 40, R::queued)},
       {"t1", "t2", "a"},
       100},

      {"PushFrontGoesAheadOfQueuedFrames",
       1000,
       {push(D, "a", 10, R::queued), push(E, "t", 20, R::queued), push_front("hello", 30)},
       {"hello", "a", "t"},
       60},
      {"PushFrontIsNotCapped",
       100,
       {push(D, "a", 100, R::queued), push_front("hello", 50)},
       {"hello", "a"},
       150},
      // The second push_front moves the first off the front, where an ephemeral one could go.
      {"FramesPushedToTheFrontCountAsDurable",
       100,
       {push_front("h1", 40), push_front("h2", 10), push(E, "t", 40, R::queued),
        push(D, "a", 50, R::queued)},
       {"h2", "h1", "a"},
       100},
      {"PushFrontOnAnEmptyQueue", 100, {push_front("hello", 20)}, {"hello"}, 20},
  };
}

class OutboundQueueTest : public testing::TestWithParam<Case> {};

TEST_P(OutboundQueueTest, Queues) {
  const Case& c = GetParam();
  OutboundQueue queue(c.max_bytes);
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const Op& op = c.ops[i];
    switch (op.what) {
      case Op::push:
        EXPECT_EQ(to_string(queue.push(frame(op.label, op.size), op.kind)), to_string(op.expected))
            << "push #" << i << " of " << op.label;
        break;
      case Op::push_front:
        queue.push_front(frame(op.label, op.size));
        break;
      case Op::pop_front:
        queue.pop_front();
        break;
      case Op::clear:
        queue.clear();
        break;
    }
  }
  EXPECT_EQ(queue.bytes(), c.bytes);
  EXPECT_EQ(queue.size(), c.left.size());
  EXPECT_EQ(queue.empty(), c.left.empty());
  // Reading back pops every frame, which must also bring the byte count back to exactly zero.
  std::vector<std::string> left;
  while (!queue.empty()) {
    left.push_back(label_of(*queue.front()));
    queue.pop_front();
  }
  EXPECT_EQ(left, c.left);
  EXPECT_EQ(queue.bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, OutboundQueueTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(OutboundQueueFrameTest, FrontIsTheSameSharedFrameThatWasPushed) {
  // Deliveries share one serialized frame between every device of a user: no copies.
  OutboundQueue queue(100);
  const OutboundQueue::Frame shared = frame("m", 10);
  ASSERT_EQ(queue.push(shared, D), Result::queued);
  EXPECT_EQ(queue.front().get(), shared.get());
}

TEST(OutboundQueueFrameTest, AQueueThatNeverEmptiesKeepsOrderAndCountAcrossManyWrites) {
  // A busy connection pushes while earlier frames are still being written: the queue never
  // empties, so written slots are reclaimed while frames wait, in order and counted exactly.
  OutboundQueue queue(100000);
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 500; ++round) {
    for (int k = 0; k < 3; ++k)
      ASSERT_EQ(queue.push(frame(std::to_string(next_in++), 10), D), Result::queued);
    if (round % 7 == 3) queue.push_front(frame("front", 10));
    if (round % 7 == 3) {
      ASSERT_EQ(label_of(*queue.front()), "front");
      queue.pop_front();
    }
    for (int k = 0; k < 2; ++k) {
      ASSERT_EQ(label_of(*queue.front()), std::to_string(next_out++));
      queue.pop_front();
    }
  }
  EXPECT_EQ(queue.size(), static_cast<std::size_t>(next_in - next_out));
  EXPECT_EQ(queue.bytes(), queue.size() * 10);
  while (!queue.empty()) {
    ASSERT_EQ(label_of(*queue.front()), std::to_string(next_out++));
    queue.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
  EXPECT_EQ(queue.bytes(), 0u);
}

}  // namespace
}  // namespace chat::core
