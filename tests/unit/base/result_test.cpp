#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace chat {
namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return make_error(Errc::bad_request, std::string("not a digit: ") + c);
  return c - '0';
}

TEST(ResultTest, HoldsAValue) {
  const Result<int> r = parse_digit('7');
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value(), 7);
  EXPECT_EQ(*r, 7);
}

TEST(ResultTest, HoldsAnError) {
  const Result<int> r = parse_digit('x');
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.error().code, Errc::bad_request);
  EXPECT_EQ(r.error().message, "not a digit: x");
}

TEST(ResultTest, ArrowReachesTheValuesMembers) {
  Result<std::string> r = std::string("hello");
  EXPECT_EQ(r->size(), 5u);
  r->append("!");
  EXPECT_EQ(*r, "hello!");
}

TEST(ResultTest, ValueCanBeChangedInPlace) {
  Result<std::vector<int>> r = std::vector<int>{1, 2};
  r.value().push_back(3);
  (*r).push_back(4);
  EXPECT_EQ(r.value(), (std::vector<int>{1, 2, 3, 4}));
}

TEST(ResultTest, MovingOutTakesTheValueWithoutCopying) {
  // unique_ptr cannot be copied: this compiles only if value() && moves.
  Result<std::unique_ptr<int>> r = std::make_unique<int>(42);
  std::unique_ptr<int> taken = std::move(r).value();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(*taken, 42);
}

TEST(ResultTest, AnErrorCanBePassedOnToAResultOfAnotherType) {
  const Result<int> inner = parse_digit('?');
  ASSERT_FALSE(inner.ok());
  const Result<std::string> outer = inner.error();
  ASSERT_FALSE(outer.ok());
  EXPECT_EQ(outer.error().code, Errc::bad_request);
  EXPECT_EQ(outer.error().message, "not a digit: ?");
}

TEST(ResultTest, CopiesAreIndependent) {
  Result<std::string> original = std::string("a");
  Result<std::string> copy = original;
  copy->append("b");
  EXPECT_EQ(*original, "a");
  EXPECT_EQ(*copy, "ab");
}

TEST(StatusTest, OkIsSuccess) {
  const Status s = Ok{};
  EXPECT_TRUE(s.ok());
}

TEST(StatusTest, ErrorIsFailureWithItsCodeAndMessage) {
  const Status s = make_error(Errc::unavailable, "store is down");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unavailable);
  EXPECT_EQ(s.error().message, "store is down");
}

struct ErrcNameCase {
  Errc code;
  std::string name;
};

void PrintTo(const ErrcNameCase& c, std::ostream* os) { *os << c.name; }

class ErrcNameTest : public testing::TestWithParam<ErrcNameCase> {};

// The names appear in logs and metrics, so they must stay as they are.
TEST_P(ErrcNameTest, HasAStableName) { EXPECT_EQ(to_string(GetParam().code), GetParam().name); }

INSTANTIATE_TEST_SUITE_P(Codes, ErrcNameTest,
                         testing::Values(ErrcNameCase{Errc::bad_request, "bad_request"},
                                         ErrcNameCase{Errc::not_found, "not_found"},
                                         ErrcNameCase{Errc::conflict, "conflict"},
                                         ErrcNameCase{Errc::unauthorized, "unauthorized"},
                                         ErrcNameCase{Errc::forbidden, "forbidden"},
                                         ErrcNameCase{Errc::unknown_recipient, "unknown_recipient"},
                                         ErrcNameCase{Errc::rate_limited, "rate_limited"},
                                         ErrcNameCase{Errc::too_large, "too_large"},
                                         ErrcNameCase{Errc::unavailable, "unavailable"},
                                         ErrcNameCase{Errc::internal, "internal"}),
                         [](const testing::TestParamInfo<ErrcNameCase>& info) {
                           return info.param.name;
                         });

TEST(ErrcFallbackTest, AnOutOfRangeCodeIsNamedInternal) {
  EXPECT_EQ(to_string(static_cast<Errc>(999)), "internal");
}

}  // namespace
}  // namespace chat
