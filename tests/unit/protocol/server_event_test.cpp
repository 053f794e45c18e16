#include "protocol/server_event.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "protocol/client_frame.h"

namespace chat::protocol {
namespace {
namespace json = boost::json;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

store::InboxEntry entry(uint64_t seq, std::string body = "hi") {
  return store::InboxEntry{.owner = "bob",
                           .seq = seq,
                           .msg_id = "018bcfe56800aabbccddeeff00112233",
                           .from = "alice",
                           .to = "bob",
                           .body = std::move(body),
                           .ts = 1'700'000'000'123};
}

const store::User kAlice{"alice", 1'700'000'000'000, std::nullopt};
const store::User kBob{"bob", 1'700'000'000'001, 1'700'000'500'000};

struct Case {
  std::string name;
  std::string produced;  // what the encoder wrote
  std::string expected;  // the JSON it must mean, field for field
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  return {
      {"HelloCarriesSessionFacts", encode_hello({"alice", "c0ffee", "node-1", 17, 1'700'003'600}),
       R"({"type":"hello","user":"alice","connection_id":"c0ffee","node":"node-1",
           "last_seq":17,"exp":1700003600})"},
      {"HelloWithAnEmptyInboxHasLastSeqZero", encode_hello({"bob", "c1", "n", 0, 5}),
       R"({"type":"hello","user":"bob","connection_id":"c1","node":"n","last_seq":0,"exp":5})"},
      {"SentAcknowledgesTheClientId", encode_sent("m1", "msg-1", 3, 1'700'000'000'123),
       R"({"type":"sent","id":"m1","msg_id":"msg-1","seq":3,"ts":1700000000123})"},
      {"SentKeepsTheFullUint64Seq", encode_sent("m1", "msg-1", kMaxU64, 0),
       R"({"type":"sent","id":"m1","msg_id":"msg-1","seq":18446744073709551615,"ts":0})"},
      {"MessageCarriesTheEntryWithoutItsOwner", encode_message(entry(9)),
       R"({"type":"message","seq":9,"msg_id":"018bcfe56800aabbccddeeff00112233",
           "from":"alice","to":"bob","body":"hi","ts":1700000000123})"},
      {"SyncedWithMore", encode_synced(10, 110, true),
       R"({"type":"synced","after":10,"upto":110,"more":true})"},
      {"SyncedWithoutMore", encode_synced(0, 0, false),
       R"({"type":"synced","after":0,"upto":0,"more":false})"},
      {"TypingNamesTheSender", encode_typing("alice"), R"({"type":"typing","from":"alice"})"},
      {"RefreshedCarriesTheNewExpiry", encode_refreshed(1'700'007'200),
       R"({"type":"refreshed","exp":1700007200})"},
      {"PongIsBare", encode_pong(), R"({"type":"pong"})"},
      {"WsErrorWithIdNamesTheSendItAnswers",
       encode_ws_error("m1", "rate_limited", "too many sends"),
       R"({"type":"error","code":"rate_limited","message":"too many sends","id":"m1"})"},
      {"WsErrorWithEmptyIdStillCarriesIt", encode_ws_error("", "bad_request", "bad id"),
       R"({"type":"error","code":"bad_request","message":"bad id","id":""})"},
      {"WsErrorWithoutIdHasNoIdField", encode_ws_error(std::nullopt, "bad_request", "not JSON"),
       R"({"type":"error","code":"bad_request","message":"not JSON"})"},
      {"RestErrorIsNestedUnderError", encode_rest_error("not_found", "no such user: bob"),
       R"({"error":{"code":"not_found","message":"no such user: bob"}})"},
      {"UserNeverSeenHasNullLastSeenAndIsOffline", encode_user({kAlice, 0}),
       R"({"username":"alice","created_at":1700000000000,"online":false,"connections":0,
           "last_seen":null})"},
      {"UserWithConnectionsIsOnlineWithLastSeen", encode_user({kBob, 2}),
       R"({"username":"bob","created_at":1700000000001,"online":true,"connections":2,
           "last_seen":1700000500000})"},
      {"UserWithOneConnectionIsOnline", encode_user({kAlice, 1}),
       R"({"username":"alice","created_at":1700000000000,"online":true,"connections":1,
           "last_seen":null})"},
      {"UserPageWithNextCursor", encode_user_page({{kAlice, 0}, {kBob, 3}}, "bob"),
       R"({"users":[
             {"username":"alice","created_at":1700000000000,"online":false,"connections":0,
              "last_seen":null},
             {"username":"bob","created_at":1700000000001,"online":true,"connections":3,
              "last_seen":1700000500000}],
           "next":"bob"})"},
      {"LastUserPageHasNullNext", encode_user_page({{kBob, 0}}, std::nullopt),
       R"({"users":[{"username":"bob","created_at":1700000000001,"online":false,"connections":0,
                     "last_seen":1700000500000}],
           "next":null})"},
      {"EmptyUserPage", encode_user_page({}, std::nullopt), R"({"users":[],"next":null})"},
      {"HistoryWithNextBefore", encode_history({entry(5, "b"), entry(4, "a")}, 4),
       R"({"messages":[
             {"seq":5,"msg_id":"018bcfe56800aabbccddeeff00112233","from":"alice","to":"bob",
              "body":"b","ts":1700000000123},
             {"seq":4,"msg_id":"018bcfe56800aabbccddeeff00112233","from":"alice","to":"bob",
              "body":"a","ts":1700000000123}],
           "next_before":4})"},
      {"LastHistoryPageHasNullNextBefore", encode_history({entry(1)}, std::nullopt),
       R"({"messages":[{"seq":1,"msg_id":"018bcfe56800aabbccddeeff00112233","from":"alice",
                        "to":"bob","body":"hi","ts":1700000000123}],
           "next_before":null})"},
      {"EmptyHistory", encode_history({}, std::nullopt), R"({"messages":[],"next_before":null})"},
  };
}

class EncodeTest : public testing::TestWithParam<Case> {};

TEST_P(EncodeTest, ProducesExactlyTheExpectedFields) {
  const Case& c = GetParam();
  boost::system::error_code ec;
  const json::value produced = json::parse(c.produced, ec);
  ASSERT_FALSE(ec) << "not JSON: " << c.produced;
  // Parsed on both sides: member order and whitespace do not matter, names, types and values do.
  EXPECT_EQ(produced, json::parse(c.expected)) << c.produced;
}

INSTANTIATE_TEST_SUITE_P(Events, EncodeTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// Seqs are compared and stored by clients: written as 1.8e19 they would lose their low digits.
TEST(EncodeNumbersTest, SeqAndTimesAreWrittenAsExactIntegers) {
  const std::string text = encode_message(entry(kMaxU64));
  EXPECT_NE(text.find(R"("seq":18446744073709551615)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("ts":1700000000123)"), std::string::npos) << text;
}

struct BodyCase {
  std::string name;
  std::string body;
};

void PrintTo(const BodyCase& c, std::ostream* os) { *os << c.name; }

class BodyRoundTripTest : public testing::TestWithParam<BodyCase> {};

TEST_P(BodyRoundTripTest, SurvivesEncodeMessageAndParse) {
  const std::string& body = GetParam().body;
  const std::string text = encode_message(entry(1, body));
  for (const char ch : text) {
    ASSERT_GE(static_cast<unsigned char>(ch), 0x20) << "raw control character in " << text;
  }
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  ASSERT_FALSE(ec) << "not JSON: " << text;
  EXPECT_EQ(std::string(v.at("body").as_string()), body);
}

TEST_P(BodyRoundTripTest, SurvivesHistoryAndParse) {
  const std::string& body = GetParam().body;
  const json::value v = json::parse(encode_history({entry(1, body)}, std::nullopt));
  EXPECT_EQ(std::string(v.at("messages").at(0).at("body").as_string()), body);
}

// What a client sends is what its peer receives: decode a send, encode the stored entry.
TEST_P(BodyRoundTripTest, SurvivesClientSendThenMessage) {
  const std::string& body = GetParam().body;
  const std::string frame =
      json::serialize(json::object{{"type", "send"}, {"id", "m1"}, {"to", "bob"}, {"body", body}});
  const DecodedFrame decoded = decode_client_frame(frame);
  ASSERT_TRUE(decoded.frame.has_value()) << decoded.error;
  const std::string& received = std::get<SendFrame>(*decoded.frame).body;
  EXPECT_EQ(received, body);
  const json::value v = json::parse(encode_message(entry(1, received)));
  EXPECT_EQ(std::string(v.at("body").as_string()), body);
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, BodyRoundTripTest,
    testing::Values(BodyCase{"PlainAscii", "hello"}, BodyCase{"DoubleQuotes", R"(she said "hi")"},
                    BodyCase{"Backslashes", R"(C:\path\to\file \\ \n literally)"},
                    BodyCase{"JsonLookalike", R"({"type":"pong"}")"},
                    BodyCase{"NewlineTabCarriageReturn", "line1\nline2\tcol\r\n"},
                    BodyCase{"EveryControlCharacter",
                             std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                         "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"
                                         "\x1c\x1d\x1e\x1f\x7f")},
                    BodyCase{"EmbeddedNul", std::string("a\0b", 3)},
                    BodyCase{"TwoByteUtf8", "caf\xc3\xa9 na\xc3\xafve"},
                    BodyCase{"ThreeByteUtf8", "\xe2\x9c\x93 \xe4\xb8\xad\xe6\x96\x87"},
                    BodyCase{"FourByteUtf8Emoji", "\xf0\x9f\x98\x80\xf0\x9f\x91\x8d"},
                    BodyCase{"LineAndParagraphSeparators",
                             "a\xe2\x80\xa8"
                             "b\xe2\x80\xa9"},
                    BodyCase{"SlashesAndHtml", "</script><b>&amp;</b>"}),
    [](const testing::TestParamInfo<BodyCase>& info) { return info.param.name; });

}  // namespace
}  // namespace chat::protocol
