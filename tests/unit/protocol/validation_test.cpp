#include "protocol/validation.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace chat::protocol {
namespace {

struct Case {
  std::string name;
  std::string username;
  bool valid;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Case accepts(std::string name, std::string username) {
  return {std::move(name), std::move(username), true};
}
Case refuses(std::string name, std::string username) {
  return {std::move(name), std::move(username), false};
}

class UsernameTest : public testing::TestWithParam<Case> {};

TEST_P(UsernameTest, IsValid) {
  EXPECT_EQ(is_valid_username(GetParam().username), GetParam().valid);
}

INSTANTIATE_TEST_SUITE_P(
    Usernames, UsernameTest,
    testing::Values(
        accepts("AcceptsLowerCase", "alice"), accepts("AcceptsUpperCase", "ALICE"),
        accepts("AcceptsDigits", "0123456789"), accepts("AcceptsOneCharacter", "a"),
        accepts("AcceptsUnderscoreDotAndDash", "a_b.c-d"), accepts("AcceptsOnlyPunctuation", "._-"),
        accepts("AcceptsSixtyFourCharacters", std::string(64, 'x')), refuses("RefusesEmpty", ""),
        refuses("RefusesSixtyFiveCharacters", std::string(65, 'x')),
        refuses("RefusesSpace", "al ice"), refuses("RefusesLeadingSpace", " alice"),
        refuses("RefusesTrailingNewline", "alice\n"), refuses("RefusesComma", "a,b"),
        refuses("RefusesAt", "alice@example"), refuses("RefusesPlus", "a+b"),
        refuses("RefusesPercent", "a%20b"), refuses("RefusesQuote", "a\"b"),
        refuses("RefusesBackslash", "a\\b"), refuses("RefusesEmbeddedNul", std::string("ab\0c", 4)),
        refuses("RefusesNonAsciiUtf8", "jos\xc3\xa9"), refuses("RefusesHighByte", "a\xff"),
        // One past each end of the accepted ASCII ranges.
        refuses("RefusesCharacterBeforeZero", "a/"), refuses("RefusesCharacterAfterNine", "a:"),
        refuses("RefusesCharacterBeforeUpperA", "a@"), refuses("RefusesCharacterAfterUpperZ", "a["),
        refuses("RefusesCharacterBeforeLowerA", "a`"),
        refuses("RefusesCharacterAfterLowerZ", "a{")),
    [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace chat::protocol
