#include "bus/kafka/event_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "base/overloaded.h"

namespace chat::bus {
namespace {

// One line per event, so that a mismatch shows every field at once.
std::string describe(const Event& event) {
  return std::visit(Overloaded{
                        [](const Delivery& d) {
                          const store::InboxEntry& e = d.entry;
                          return "delivery owner=" + e.owner + " seq=" + std::to_string(e.seq) +
                                 " msg_id=" + e.msg_id + " from=" + e.from + " to=" + e.to +
                                 " body=" + e.body + " ts=" + std::to_string(e.ts);
                        },
                        [](const Typing& t) { return "typing from=" + t.from + " to=" + t.to; },
                        [](const UserDeleted& u) { return "user_deleted username=" + u.username; },
                    },
                    event);
}

Event delivery(std::string body, uint64_t seq = 7, int64_t ts = 1'700'000'000'123) {
  return Delivery{store::InboxEntry{.owner = "bob",
                                    .seq = seq,
                                    .msg_id = "m-1",
                                    .from = "alice",
                                    .to = "bob",
                                    .body = std::move(body),
                                    .ts = ts}};
}

struct RoundTrip {
  std::string name;
  Event event;
};

void PrintTo(const RoundTrip& c, std::ostream* os) { *os << c.name; }

std::vector<RoundTrip> round_trips() {
  return {
      {"DeliveryWithAPlainBody", delivery("hello")},
      {"DeliveryWithQuotesBackslashesAndNewlines", delivery("a \"quoted\" \\ line\nnext\t")},
      {"DeliveryWithUnicode", delivery("h\xC3\xA9llo \xF0\x9F\x91\x8B")},
      {"DeliveryWithAControlCharacter", delivery(std::string("nul\0byte", 8))},
      {"DeliveryWithBytesThatAreNotUtf8", delivery("\xFF\xFE broken")},
      {"DeliveryWithTheLargestSeq", delivery("x", std::numeric_limits<uint64_t>::max())},
      {"DeliveryWithSeqZeroAndANegativeTs", delivery("x", 0, -5)},
      {"DeliveryWithEmptyStrings", Delivery{store::InboxEntry{}}},
      {"Typing", Typing{.from = "alice", .to = "bob"}},
      {"UserDeleted", UserDeleted{.username = "carol"}},
  };
}

class EventRoundTripTest : public testing::TestWithParam<RoundTrip> {};

TEST_P(EventRoundTripTest, DecodesToWhatWasEncoded) {
  const Event& event = GetParam().event;
  const std::string text = encode_event(event);
  const Result<Event> decoded = decode_event(text);
  ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.error().message;
  EXPECT_EQ(describe(*decoded), describe(event)) << text;
}

INSTANTIATE_TEST_SUITE_P(Events, EventRoundTripTest, testing::ValuesIn(round_trips()),
                         [](const testing::TestParamInfo<RoundTrip>& info) {
                           return info.param.name;
                         });

struct Refusal {
  std::string name;
  std::string text;
  std::string reason;  // a part of the error message that names the fault
};

void PrintTo(const Refusal& c, std::ostream* os) { *os << c.name; }

// A valid delivery, except that `field` has the JSON text `replacement` ("": the field is absent).
std::string delivery_with(const std::string& field, const std::string& replacement) {
  const std::vector<std::pair<std::string, std::string>> fields{
      {"owner", R"("bob")"}, {"seq", "1"},        {"msg_id", R"("m")"}, {"from", R"("alice")"},
      {"to", R"("bob")"},    {"body", R"("hi")"}, {"ts", "5"}};
  std::string entry;
  for (const auto& [name, value] : fields) {
    const std::string& text = name == field ? replacement : value;
    if (text.empty()) continue;
    if (!entry.empty()) entry += ',';
    entry += "\"" + name + "\":" + text;
  }
  return R"({"type":"delivery","entry":{)" + entry + "}}";
}

std::vector<Refusal> refusals() {
  std::vector<Refusal> cases{
      {"EmptyText", "", "not JSON"},
      {"Garbage", "\x01\x02 not json at all", "not JSON"},
      {"TruncatedJson", R"({"type":"typing","from":"a")", "not JSON"},
      {"AnArray", R"(["typing"])", "not a JSON object"},
      {"AString", R"("typing")", "not a JSON object"},
      {"NoType", R"({"from":"a","to":"b"})", "\"type\""},
      {"TypeIsANumber", R"({"type":3})", "\"type\""},
      {"UnknownType", R"({"type":"presence","user":"a"})", "unknown type"},
      {"DeliveryWithoutEntry", R"({"type":"delivery"})", "\"entry\""},
      {"DeliveryWhoseEntryIsAString", R"({"type":"delivery","entry":"x"})", "\"entry\""},
      {"TypingWithoutTo", R"({"type":"typing","from":"a"})", "\"to\""},
      {"TypingWhoseFromIsANumber", R"({"type":"typing","from":1,"to":"b"})", "\"from\""},
      {"UserDeletedWithoutUsername", R"({"type":"user_deleted"})", "\"username\""},
      {"UserDeletedWhoseUsernameIsNull", R"({"type":"user_deleted","username":null})",
       "\"username\""},
      {"DeliveryWithANegativeSeq", delivery_with("seq", "-1"), "\"seq\""},
      {"DeliveryWithAFractionalSeq", delivery_with("seq", "1.5"), "\"seq\""},
      {"DeliveryWithASeqInAString", delivery_with("seq", "\"1\""), "\"seq\""},
      {"DeliveryWithAFractionalTs", delivery_with("ts", "5.5"), "\"ts\""},
      {"DeliveryWithATsBeyondInt64", delivery_with("ts", "9223372036854775808"), "\"ts\""},
      {"DeliveryWithABodyThatIsAnObject", delivery_with("body", "{}"), "\"body\""},
      {"DeeplyNestedJson", std::string(10'000, '[') + std::string(10'000, ']'), "not JSON"},
  };
  for (const std::string field : {"owner", "seq", "msg_id", "from", "to", "body", "ts"})
    cases.push_back({"DeliveryWithout_" + field, delivery_with(field, ""), "\"" + field + "\""});
  return cases;
}

class EventRefusalTest : public testing::TestWithParam<Refusal> {};

TEST_P(EventRefusalTest, DecodesToAnErrorThatNamesTheFault) {
  const Refusal& c = GetParam();
  const Result<Event> decoded = decode_event(c.text);
  ASSERT_FALSE(decoded.ok()) << c.text << " decoded to " << describe(*decoded);
  EXPECT_EQ(decoded.error().code, Errc::bad_request);
  EXPECT_NE(decoded.error().message.find(c.reason), std::string::npos)
      << decoded.error().message << " does not mention " << c.reason;
}

INSTANTIATE_TEST_SUITE_P(Records, EventRefusalTest, testing::ValuesIn(refusals()),
                         [](const testing::TestParamInfo<Refusal>& info) {
                           return info.param.name;
                         });

TEST(EventCodecTest, DecodingIgnoresFieldsItDoesNotKnow) {
  const Result<Event> decoded =
      decode_event(R"({"type":"typing","from":"a","to":"b","v":2,"extra":{"x":[1]}})");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(describe(*decoded), "typing from=a to=b");
}

TEST(EventCodecTest, TheRefusalTableDiffersFromAValidDeliveryInOneFieldOnly) {
  EXPECT_TRUE(decode_event(delivery_with("none", "")).ok());
  EXPECT_TRUE(decode_event(delivery_with("seq", "2")).ok());
}

}  // namespace
}  // namespace chat::bus
