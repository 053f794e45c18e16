#include "core/entry_cursor.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace chat::core {
namespace {

using Step = EntryCursor::Step;

struct Case {
  std::string name;
  bool started;
  uint64_t head;
  uint64_t seq;
  Step expected;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class EntryCursorTest : public ::testing::TestWithParam<Case> {};

TEST_P(EntryCursorTest, DecidesWhatToDoWithAnEntry) {
  const Case& c = GetParam();
  EntryCursor cursor;
  if (c.started) cursor.start(c.head);
  EXPECT_EQ(cursor.on_entry(c.seq), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Entries, EntryCursorTest,
    ::testing::Values(
        Case{"AnEntryBeforeTheHeadIsKnownIsCoveredByTheHead", false, 0, 1, Step::drop_before_head},
        Case{"TheNextEntryAfterTheHeadPasses", true, 5, 6, Step::pass},
        Case{"TheFirstEntryOfAnEmptyInboxPasses", true, 0, 1, Step::pass},
        Case{"AnEntryAtTheHeadIsARepeat", true, 5, 5, Step::drop_repeat},
        Case{"AnEntryBelowTheHeadIsARepeat", true, 5, 2, Step::drop_repeat},
        Case{"AnEntryAheadOfAMissingOneNeedsTheGapFilled", true, 5, 7, Step::fill_gap},
        Case{"AFarAheadEntryNeedsTheGapFilled", true, 0, 1000, Step::fill_gap}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(EntryCursorSequenceTest, EntriesArrivingTwiceAndOutOfOrderComeOutOnceInOrder) {
  // Two paths deliver 1..6: one in order, the other late and reordered.
  const std::vector<uint64_t> arrivals = {1, 3, 2, 1, 4, 3, 6, 5, 6};
  EntryCursor cursor;
  cursor.start(0);
  std::vector<uint64_t> given;
  for (uint64_t seq : arrivals) {
    switch (cursor.on_entry(seq)) {
      case Step::pass:
        given.push_back(seq);
        cursor.advance(seq);
        break;
      case Step::fill_gap:  // the store has everything up to seq
        for (uint64_t s = cursor.delivered() + 1; s <= seq; ++s) given.push_back(s);
        cursor.advance(seq);
        break;
      case Step::drop_repeat:
      case Step::drop_before_head:
        break;
    }
  }
  EXPECT_EQ(given, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(EntryCursorSequenceTest, AdvanceNeverMovesBack) {
  EntryCursor cursor;
  cursor.start(10);
  cursor.advance(4);  // a sync of old entries
  EXPECT_EQ(cursor.delivered(), 10u);
  cursor.advance(12);
  EXPECT_EQ(cursor.delivered(), 12u);
}

TEST(EntryCursorSequenceTest, AdvanceBeforeStartIsIgnored) {
  EntryCursor cursor;
  cursor.advance(7);
  EXPECT_FALSE(cursor.started());
  cursor.start(3);
  EXPECT_EQ(cursor.delivered(), 3u);
}

}  // namespace
}  // namespace chat::core
