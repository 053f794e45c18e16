#include "protocol/client_frame.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "base/overloaded.h"

namespace chat::protocol {
namespace {

// One line per decoded frame, so that a mismatch shows every field at once.
std::string describe(const ClientFrame& frame) {
  return std::visit(
      Overloaded{
          [](const SendFrame& f) { return "send id=" + f.id + " to=" + f.to + " body=" + f.body; },
          [](const SyncFrame& f) {
            return "sync after=" + std::to_string(f.after) + " limit=" + std::to_string(f.limit);
          },
          [](const TypingFrame& f) { return "typing to=" + f.to; },
          [](const RefreshFrame& f) { return "refresh token=" + f.token; },
          [](const PingFrame&) { return std::string("ping"); },
      },
      frame);
}

struct Case {
  std::string name;
  std::string text;
  std::optional<std::string> frame;  // describe() of the decoded frame; nullopt: refused
  std::optional<std::string> id;     // the client id the result carries
  std::string reason;                // for a refusal, a part of the message that names the fault
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Case accepts(std::string name, std::string text, std::string frame,
             std::optional<std::string> id = std::nullopt) {
  return {std::move(name), std::move(text), std::move(frame), std::move(id), ""};
}

Case refuses(std::string name, std::string text, std::string reason,
             std::optional<std::string> id = std::nullopt) {
  return {std::move(name), std::move(text), std::nullopt, std::move(id), std::move(reason)};
}

const std::string k64(64, 'a');
const std::string k65(65, 'a');

// "\u00e9" repeated: each is one character but two bytes once decoded.
std::string e_acute_escapes(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "\\u00e9";
  return out;
}
std::string e_acute_utf8(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "\xc3\xa9";
  return out;
}

std::string send_json(const std::string& fields) { return R"({"type":"send",)" + fields + "}"; }

std::vector<Case> cases() {
  return {
      // ---- accepted ----
      accepts("AcceptsSend", send_json(R"("id":"m1","to":"bob","body":"hi")"),
              "send id=m1 to=bob body=hi", "m1"),
      accepts("AcceptsSendWithFieldsInAnyOrder",
              R"({"body":"hi","to":"bob","id":"m1","type":"send"})", "send id=m1 to=bob body=hi",
              "m1"),
      accepts("AcceptsSendWithUnknownExtraFields",
              send_json(R"("id":"m1","to":"bob","body":"hi","x":[1,{}],"priority":9)"),
              "send id=m1 to=bob body=hi", "m1"),
      accepts("AcceptsSendWithOneCharacterId", send_json(R"("id":"x","to":"bob","body":"hi")"),
              "send id=x to=bob body=hi", "x"),
      accepts("AcceptsSendWithSixtyFourCharacterId",
              send_json(R"("id":")" + k64 + R"(","to":"bob","body":"hi")"),
              "send id=" + k64 + " to=bob body=hi", k64),
      // The id limit is in bytes (docs/protocol.md): 32 two-byte characters fit exactly.
      accepts("AcceptsSendWithSixtyFourByteMultibyteId",
              send_json(R"("id":")" + e_acute_escapes(32) + R"(","to":"bob","body":"hi")"),
              "send id=" + e_acute_utf8(32) + " to=bob body=hi", e_acute_utf8(32)),
      accepts("AcceptsSendWithAnIdOfAnyCharacters",
              send_json(R"("id":"a b/c\u00e9","to":"bob","body":"hi")"),
              "send id=a b/c\xc3\xa9 to=bob body=hi", "a b/c\xc3\xa9"),
      accepts("AcceptsSendToSixtyFourCharacterUsername",
              send_json(R"("id":"m1","to":")" + k64 + R"(","body":"hi")"),
              "send id=m1 to=" + k64 + " body=hi", "m1"),
      accepts("AcceptsSendToUsernameWithDotDashUnderscore",
              send_json(R"("id":"m1","to":"a.b-c_D9","body":"hi")"),
              "send id=m1 to=a.b-c_D9 body=hi", "m1"),
      accepts("AcceptsSendWithWhitespaceOnlyBody", send_json(R"("id":"m1","to":"bob","body":" ")"),
              "send id=m1 to=bob body= ", "m1"),
      accepts("AcceptsSendWithEscapedBody",
              send_json(R"("id":"m1","to":"bob","body":"a\"b\\c\nd\u00e9\ud83d\ude00")"),
              "send id=m1 to=bob body=a\"b\\c\nd\xc3\xa9\xf0\x9f\x98\x80", "m1"),
      accepts("AcceptsFrameSurroundedByWhitespace",
              " \n\t" + send_json(R"("id":"m1","to":"bob","body":"hi")") + "\r\n ",
              "send id=m1 to=bob body=hi", "m1"),

      accepts("AcceptsSyncWithDefaultsAfterZeroLimitHundred", R"({"type":"sync"})",
              "sync after=0 limit=100"),
      accepts("AcceptsSyncWithAfterAndLimit", R"({"type":"sync","after":42,"limit":7})",
              "sync after=42 limit=7"),
      accepts("AcceptsSyncWithExplicitZeroAfter", R"({"type":"sync","after":0})",
              "sync after=0 limit=100"),
      accepts("AcceptsSyncWithOnlyLimit", R"({"type":"sync","limit":5})", "sync after=0 limit=5"),
      accepts("AcceptsSyncWithLimitOne", R"({"type":"sync","limit":1})", "sync after=0 limit=1"),
      accepts("AcceptsSyncWithLimitThousand", R"({"type":"sync","limit":1000})",
              "sync after=0 limit=1000"),
      accepts("AcceptsSyncWithLargestUint64After",
              R"({"type":"sync","after":18446744073709551615})",
              "sync after=18446744073709551615 limit=100"),
      accepts("AcceptsSyncIgnoringAnId", R"({"type":"sync","id":"s1"})", "sync after=0 limit=100"),

      accepts("AcceptsTyping", R"({"type":"typing","to":"bob"})", "typing to=bob"),
      accepts("AcceptsRefresh", R"({"type":"refresh","token":"eyJ.a.b"})", "refresh token=eyJ.a.b"),
      accepts("AcceptsPing", R"({"type":"ping"})", "ping"),
      accepts("AcceptsPingWithExtraFields", R"({"type":"ping","id":"p","n":1})", "ping"),

      // ---- not a frame at all ----
      refuses("RefusesEmptyText", "", "JSON"),
      refuses("RefusesPlainText", "hello", "JSON"),
      refuses("RefusesTruncatedJson", R"({"type":"ping")", "JSON"),
      refuses("RefusesTrailingGarbage", R"({"type":"ping"} x)", "JSON"),
      refuses("RefusesTwoObjects", R"({"type":"ping"}{"type":"ping"})", "JSON"),
      refuses("RefusesSingleQuotes", "{'type':'ping'}", "JSON"),
      refuses("RefusesInvalidUtf8", send_json("\"id\":\"m1\",\"to\":\"bob\",\"body\":\"\xff\""),
              "JSON"),
      refuses("RefusesJsonArray", R"([{"type":"ping"}])", "object"),
      refuses("RefusesJsonString", R"("ping")", "object"),
      refuses("RefusesJsonNumber", "42", "object"),
      refuses("RefusesJsonNull", "null", "object"),

      // ---- type ----
      refuses("RefusesMissingType", R"({"id":"m1","to":"bob","body":"hi"})", R"("type")"),
      refuses("RefusesNumericType", R"({"type":1})", R"("type")"),
      refuses("RefusesNullType", R"({"type":null})", R"("type")"),
      refuses("RefusesArrayType", R"({"type":["send"]})", R"("type")"),
      refuses("RefusesUnknownTypeWithoutCarryingItsId", R"({"type":"shout","id":"m1"})", "unknown"),
      refuses("RefusesTypeInTheWrongCase", R"({"type":"PING"})", "unknown"),
      refuses("RefusesEmptyType", R"({"type":""})", "unknown"),

      // ---- send: id ----
      refuses("RefusesSendWithoutId", send_json(R"("to":"bob","body":"hi")"), R"("id")"),
      refuses("RefusesSendWithNumericId", send_json(R"("id":7,"to":"bob","body":"hi")"), R"("id")"),
      refuses("RefusesSendWithNullId", send_json(R"("id":null,"to":"bob","body":"hi")"), R"("id")"),
      // An id that is a string is echoed even when it is refused, so the client can match the
      // error.
      refuses("RefusesSendWithEmptyIdAndEchoesIt", send_json(R"("id":"","to":"bob","body":"hi")"),
              R"("id")", ""),
      refuses("RefusesSendWithSixtyFiveCharacterIdAndEchoesIt",
              send_json(R"("id":")" + k65 + R"(","to":"bob","body":"hi")"), R"("id")", k65),
      refuses("RefusesSendWithIdOverSixtyFourBytesThoughUnderSixtyFourCharacters",
              send_json(R"("id":")" + e_acute_escapes(33) + R"(","to":"bob","body":"hi")"),
              R"("id")", e_acute_utf8(33)),

      // ---- send: to ----
      refuses("RefusesSendWithoutTo", send_json(R"("id":"m1","body":"hi")"), R"("to")", "m1"),
      refuses("RefusesSendToEmptyUsername", send_json(R"("id":"m1","to":"","body":"hi")"),
              R"("to")", "m1"),
      refuses("RefusesSendToSixtyFiveCharacterUsername",
              send_json(R"("id":"m1","to":")" + k65 + R"(","body":"hi")"), R"("to")", "m1"),
      refuses("RefusesSendToUsernameWithASpace",
              send_json(R"("id":"m1","to":"not a name!","body":"hi")"), R"("to")", "m1"),
      refuses("RefusesSendToUsernameWithASlash", send_json(R"("id":"m1","to":"a/b","body":"hi")"),
              R"("to")", "m1"),
      refuses("RefusesSendToNumericUsername", send_json(R"("id":"m1","to":42,"body":"hi")"),
              R"("to")", "m1"),
      refuses("RefusesSendToAList", send_json(R"("id":"m1","to":["bob"],"body":"hi")"), R"("to")",
              "m1"),

      // ---- send: body ----
      refuses("RefusesSendWithoutBody", send_json(R"("id":"m1","to":"bob")"), R"("body")", "m1"),
      refuses("RefusesSendWithEmptyBody", send_json(R"("id":"m1","to":"bob","body":"")"),
              R"("body")", "m1"),
      refuses("RefusesSendWithNumericBody", send_json(R"("id":"m1","to":"bob","body":5)"),
              R"("body")", "m1"),
      refuses("RefusesSendWithObjectBody", send_json(R"("id":"m1","to":"bob","body":{"x":1})"),
              R"("body")", "m1"),
      refuses("RefusesSendWithNullBody", send_json(R"("id":"m1","to":"bob","body":null)"),
              R"("body")", "m1"),

      // ---- sync ----
      refuses("RefusesSyncWithNegativeAfter", R"({"type":"sync","after":-1})", R"("after")"),
      refuses("RefusesSyncWithFractionalAfter", R"({"type":"sync","after":1.5})", R"("after")"),
      refuses("RefusesSyncWithWholeFloatAfter", R"({"type":"sync","after":1.0})", R"("after")"),
      refuses("RefusesSyncWithExponentAfter", R"({"type":"sync","after":1e2})", R"("after")"),
      refuses("RefusesSyncWithAfterBeyondUint64", R"({"type":"sync","after":18446744073709551616})",
              R"("after")"),
      refuses("RefusesSyncWithStringAfter", R"({"type":"sync","after":"5"})", R"("after")"),
      refuses("RefusesSyncWithNullAfter", R"({"type":"sync","after":null})", R"("after")"),
      refuses("RefusesSyncWithBooleanAfter", R"({"type":"sync","after":true})", R"("after")"),
      refuses("RefusesSyncWithLimitZero", R"({"type":"sync","limit":0})", R"("limit")"),
      refuses("RefusesSyncWithLimitThousandAndOne", R"({"type":"sync","limit":1001})",
              R"("limit")"),
      refuses("RefusesSyncWithNegativeLimit", R"({"type":"sync","limit":-5})", R"("limit")"),
      refuses("RefusesSyncWithLargestUint64Limit",
              R"({"type":"sync","limit":18446744073709551615})", R"("limit")"),
      refuses("RefusesSyncWithStringLimit", R"({"type":"sync","limit":"5"})", R"("limit")"),
      refuses("RefusesSyncWithFloatLimit", R"({"type":"sync","limit":5.0})", R"("limit")"),

      // ---- typing ----
      refuses("RefusesTypingWithoutTo", R"({"type":"typing"})", R"("to")"),
      refuses("RefusesTypingToEmptyUsername", R"({"type":"typing","to":""})", R"("to")"),
      refuses("RefusesTypingToSixtyFiveCharacterUsername",
              R"({"type":"typing","to":")" + k65 + R"("})", R"("to")"),
      refuses("RefusesTypingToUsernameWithIllegalCharacter", R"({"type":"typing","to":"bo b"})",
              R"("to")"),
      refuses("RefusesTypingToNumericUsername", R"({"type":"typing","to":1})", R"("to")"),

      // ---- refresh ----
      refuses("RefusesRefreshWithoutToken", R"({"type":"refresh"})", R"("token")"),
      refuses("RefusesRefreshWithEmptyToken", R"({"type":"refresh","token":""})", R"("token")"),
      refuses("RefusesRefreshWithNumericToken", R"({"type":"refresh","token":123})", R"("token")"),
  };
}

class DecodeClientFrameTest : public testing::TestWithParam<Case> {};

TEST_P(DecodeClientFrameTest, Decode) {
  const Case& c = GetParam();
  const DecodedFrame decoded = decode_client_frame(c.text);
  if (c.frame) {
    ASSERT_TRUE(decoded.frame.has_value()) << "refused: " << decoded.error;
    EXPECT_EQ(describe(*decoded.frame), *c.frame);
    EXPECT_EQ(decoded.error, "");
  } else {
    ASSERT_FALSE(decoded.frame.has_value()) << "accepted as " << describe(*decoded.frame);
    EXPECT_NE(decoded.error.find(c.reason), std::string::npos)
        << "the message \"" << decoded.error << "\" should mention " << c.reason;
  }
  EXPECT_EQ(decoded.id, c.id);
}

INSTANTIATE_TEST_SUITE_P(Frames, DecodeClientFrameTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace chat::protocol
