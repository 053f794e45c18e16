#include "base/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace chat {
namespace {

bool is_lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The timestamp written as 12 lower-case hex digits, computed independently of ids.cpp.
std::string hex12(uint64_t value) {
  std::string out(12, '0');
  for (int i = 11; i >= 0; --i, value >>= 4) out[i] = "0123456789abcdef"[value & 0xF];
  return out;
}

struct HexLengthCase {
  std::string name;
  std::size_t bytes;
};

void PrintTo(const HexLengthCase& c, std::ostream* os) { *os << c.name; }

class RandomHexLengthTest : public testing::TestWithParam<HexLengthCase> {};

TEST_P(RandomHexLengthTest, IsTwoLowerHexDigitsPerByte) {
  const std::size_t bytes = GetParam().bytes;
  for (int draw = 0; draw < 100; ++draw) {
    const std::string hex = random_hex(bytes);
    ASSERT_EQ(hex.size(), 2 * bytes) << hex;
    ASSERT_TRUE(is_lower_hex(hex)) << hex;
  }
}

// Lengths around the 8-byte chunks random_hex draws at a time.
INSTANTIATE_TEST_SUITE_P(
    Lengths, RandomHexLengthTest,
    testing::Values(HexLengthCase{"ZeroBytesIsEmpty", 0}, HexLengthCase{"OneByte", 1},
                    HexLengthCase{"SevenBytes", 7}, HexLengthCase{"EightBytesIsOneFullDraw", 8},
                    HexLengthCase{"NineBytesSpillsIntoASecondDraw", 9},
                    HexLengthCase{"TwelveBytesLikeAConnectionId", 12},
                    HexLengthCase{"SixteenBytes", 16}, HexLengthCase{"ThirtyThreeBytes", 33}),
    [](const testing::TestParamInfo<HexLengthCase>& info) { return info.param.name; });

TEST(RandomHexTest, EveryHexDigitShowsUpInEveryPosition) {
  // A digit stuck at one value (a truncated shift, a mask that is too narrow) would show here:
  // 2000 draws leave a digit unseen in one position with probability ~16 * (15/16)^2000.
  constexpr std::size_t kBytes = 9;
  std::vector<std::set<char>> seen(2 * kBytes);
  for (int draw = 0; draw < 2000; ++draw) {
    const std::string hex = random_hex(kBytes);
    for (std::size_t i = 0; i < hex.size(); ++i) seen[i].insert(hex[i]);
  }
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].size(), 16u) << "position " << i;
}

TEST(RandomHexTest, ManyDrawsAreAllDistinct) {
  std::set<std::string> ids;
  for (int draw = 0; draw < 100'000; ++draw) ids.insert(random_hex(12));
  EXPECT_EQ(ids.size(), 100'000u);
}

TEST(RandomHexTest, ThreadsDrawDistinctSequences) {
  // Each thread has its own generator; they must not start from the same seed.
  constexpr int kThreads = 8;
  constexpr int kDraws = 1000;
  std::vector<std::vector<std::string>> drawn(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&drawn, t] {
      for (int i = 0; i < kDraws; ++i) drawn[t].push_back(random_hex(8));
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& list : drawn) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kDraws));
}

struct MessageIdCase {
  std::string name;
  int64_t now_ms;
};

void PrintTo(const MessageIdCase& c, std::ostream* os) { *os << c.name; }

class MessageIdTest : public testing::TestWithParam<MessageIdCase> {};

TEST_P(MessageIdTest, IsThirtyTwoHexDigitsStartingWithTheTimestamp) {
  const int64_t now_ms = GetParam().now_ms;
  const std::string id = new_message_id(now_ms);
  ASSERT_EQ(id.size(), 32u) << id;
  EXPECT_TRUE(is_lower_hex(id)) << id;
  EXPECT_EQ(id.substr(0, 12), hex12(static_cast<uint64_t>(now_ms))) << id;
  EXPECT_EQ(std::stoull(id.substr(0, 12), nullptr, 16), static_cast<uint64_t>(now_ms)) << id;
}

INSTANTIATE_TEST_SUITE_P(
    Timestamps, MessageIdTest,
    testing::Values(MessageIdCase{"AtTheEpoch", 0}, MessageIdCase{"OneMillisecondIn", 1},
                    MessageIdCase{"InNovember2023", 1'700'000'000'123},
                    MessageIdCase{"AtTheLargest48BitTimestamp", (int64_t{1} << 48) - 1}),
    [](const testing::TestParamInfo<MessageIdCase>& info) { return info.param.name; });

TEST(MessageIdOrderTest, IdsSortByTimestamp) {
  // Later milliseconds must sort later as strings, whatever the random tails.
  const std::vector<int64_t> times = {0,
                                      1,
                                      15,
                                      16,
                                      255,
                                      256,
                                      999'999,
                                      1'000'000,
                                      1'700'000'000'000,
                                      1'700'000'000'001,
                                      int64_t{1} << 44,
                                      (int64_t{1} << 48) - 1};
  for (int round = 0; round < 100; ++round) {
    for (std::size_t i = 1; i < times.size(); ++i) {
      const std::string earlier = new_message_id(times[i - 1]);
      const std::string later = new_message_id(times[i]);
      ASSERT_LT(earlier, later) << times[i - 1] << " vs " << times[i];
    }
  }
}

TEST(MessageIdOrderTest, IdsOfTheSameMillisecondDiffer) {
  std::set<std::string> ids;
  for (int draw = 0; draw < 10'000; ++draw) ids.insert(new_message_id(1'700'000'000'000));
  EXPECT_EQ(ids.size(), 10'000u);
}

}  // namespace
}  // namespace chat
