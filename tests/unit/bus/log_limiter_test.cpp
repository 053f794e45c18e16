#include "bus/kafka/log_limiter.h"

#include <gtest/gtest.h>

namespace chat::bus {
namespace {

using namespace std::chrono_literals;

TEST(LogLimiterTest, AdmitsTheFirstOccurrence) {
  LogLimiter limiter(10s);
  EXPECT_EQ(limiter.admit(SteadyClock::time_point{}), 0u);
}

TEST(LogLimiterTest, LeavesOutRepeatsWithinThePeriodAndCountsThem) {
  LogLimiter limiter(10s);
  const SteadyClock::time_point t0{};
  ASSERT_TRUE(limiter.admit(t0).has_value());
  EXPECT_FALSE(limiter.admit(t0 + 1s).has_value());
  EXPECT_FALSE(limiter.admit(t0 + 9s).has_value());
  EXPECT_EQ(limiter.admit(t0 + 10s), 2u);
  EXPECT_FALSE(limiter.admit(t0 + 11s).has_value());
  EXPECT_EQ(limiter.admit(t0 + 30s), 1u);
}

}  // namespace
}  // namespace chat::bus
