#include "core/token_bucket.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace chat::core {
namespace {

// One call to try_take: at which time, and whether a token must be granted.
struct Take {
  double at;
  bool granted;
};

struct Case {
  std::string name;
  double rate;
  double burst;
  std::vector<Take> takes;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

constexpr bool T = true;
constexpr bool F = false;

// Times are multiples of 1/4 s and rates small integers, so every sum is exact in binary.
std::vector<Case> cases() {
  return {
      {"GrantsTheWholeBurstAtOnceThenRefuses", 1, 3, {{0, T}, {0, T}, {0, T}, {0, F}, {0, F}}},
      {"RefillsOneTokenPerSecondAtRateOne",
       1,
       3,
       {{0, T}, {0, T}, {0, T}, {0, F}, {1, T}, {1, F}, {3, T}, {3, T}, {3, F}}},
      {"RefillsByTheRate", 4, 3, {{0, T}, {0, T}, {0, T}, {0, F}, {0.5, T}, {0.5, T}, {0.5, F}}},
      {"AccumulatesFractionsOfATokenAcrossCalls",
       2,
       1,
       {{0, T}, {0.25, F}, {0.5, T}, {0.75, F}, {1, T}}},
      {"RefusalsConsumeNothing", 1, 1, {{0, T}, {0.5, F}, {0.5, F}, {0.75, F}, {1, T}}},
      {"NeverHoldsMoreThanTheBurstAfterALongIdle",
       1,
       2,
       {{0, T}, {0, T}, {0, F}, {1000, T}, {1000, T}, {1000, F}}},
      {"IsCappedAtTheBurstEvenWhenNotEmptied", 1, 2, {{0, T}, {100, T}, {100, T}, {100, F}}},
      {"StandingStillAddsNothing", 1, 2, {{5, T}, {5, T}, {5, F}, {5, F}}},
      {"TimeGoingBackwardsAddsNothing",
       1,
       2,
       {{10, T}, {10, T}, {10, F}, {4, F}, {-100, F}, {10, F}, {11, T}, {11, F}}},
      {"ReturningToTheLatestTimeAfterGoingBackAddsNothing",
       1,
       1,
       {{10, T}, {9, F}, {10, F}, {10.5, F}, {11, T}}},
      {"ZeroRateNeverRefills", 0, 2, {{0, T}, {0, T}, {1e9, F}}},
      {"StartsFullAtALargeSteadyClockReading",
       1,
       2,
       {{86'400, T}, {86'400, T}, {86'400, F}, {86'401, T}}},
  };
}

class TokenBucketTest : public testing::TestWithParam<Case> {};

TEST_P(TokenBucketTest, GrantsTokens) {
  const Case& c = GetParam();
  TokenBucket bucket(c.rate, c.burst);
  for (std::size_t i = 0; i < c.takes.size(); ++i) {
    EXPECT_EQ(bucket.try_take(c.takes[i].at), c.takes[i].granted)
        << "take #" << i << " at t=" << c.takes[i].at;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, TokenBucketTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// Time starts at the first call, whatever the clock's origin: a clock reading negative refills too.
TEST(TokenBucketClockTest, RefillsWhileTheClockReadsNegative) {
  TokenBucket bucket(1, 1);
  EXPECT_TRUE(bucket.try_take(-100));
  EXPECT_FALSE(bucket.try_take(-100));
  EXPECT_TRUE(bucket.try_take(-99)) << "one second passed at one token per second";
}

}  // namespace
}  // namespace chat::core
