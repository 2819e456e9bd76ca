// The SHIP message model: the envelope both ways, ISO-8859-1 and windows-1252 documents read
// as UTF-8, unknown elements kept, hostile documents (entities, depth, size) refused, error
// codes mapped, and SHIP's value conventions.
#include "facegate/ship/message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace facegate::ship {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ShipMessageTest, RequestCallRoundTripsWithUnknownElementsKept) {
  RequestCall call{"SaltoDBUserList.Read", Element("Params")};
  call.params.Add("MaxCount", "500");
  call.params.Add("StartingFromExtUserID", "E<1>&\"2\"");
  Element& nested = call.params.Add("Future.Field");
  nested.Add("Inner", "x");
  const std::string xml = Encode(call);
  EXPECT_THAT(xml, ::testing::StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                         "<RequestCall><RequestName>SaltoDBUserList.Read"
                                         "</RequestName><Params><MaxCount>500</MaxCount>"));
  EXPECT_THAT(xml, HasSubstr("E&lt;1&gt;&amp;\"2\""));
  auto back = DecodeRequestCall(xml);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "SaltoDBUserList.Read");
  EXPECT_EQ(back->params, call.params);
  EXPECT_EQ(back->params.TextOf("StartingFromExtUserID"), "E<1>&\"2\"");
  ASSERT_NE(back->params.Find("Future.Field"), nullptr);
  EXPECT_EQ(back->params.Find("Future.Field")->TextOf("Inner"), "x");
}

TEST(ShipMessageTest, ResponseWithParamsAndWithException) {
  const std::string ok =
      "<RequestResponse><RequestName>GetInfo</RequestName><Params><ProtocolID>SHIP"
      "</ProtocolID><ProtocolVersion>1.23</ProtocolVersion><DateTime>2026-12-01T08:00:00"
      "</DateTime></Params></RequestResponse>";
  auto r = DecodeRequestResponse(ok);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "GetInfo");
  EXPECT_FALSE(r->exception);
  EXPECT_EQ(r->params.TextOf("ProtocolVersion"), "1.23");

  const std::string failed =
      "<?xml version=\"1.0\"?>\n<RequestResponse>\n  <RequestName>Bogus</RequestName>\n"
      "  <Exception><Code>502</Code><Message>Unknown request</Message></Exception>\n"
      "</RequestResponse>\n";
  r = DecodeRequestResponse(failed);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->exception);
  EXPECT_EQ(r->exception->code, 502);
  EXPECT_EQ(r->exception->message, "Unknown request");
  Status s = StatusOf(*r->exception, "Bogus");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown request (code 502): Unknown request"));

  RequestResponse written{"OnlineDoor.Open", Element("Params"), ShipException{100, "no door"}};
  auto again = DecodeRequestResponse(Encode(written));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->exception);
  EXPECT_EQ(again->exception->code, 100);
  EXPECT_EQ(StatusOf(*again->exception, "OnlineDoor.Open").code(), StatusCode::kNotFound);
}

TEST(ShipMessageTest, Latin1AndWindows1252AreReadAsUtf8) {
  // "Müller" and "Sørensen" in ISO-8859-1 bytes.
  const std::string latin1 =
      "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><RequestResponse><RequestName>X"
      "</RequestName><Params><LastName>M\xFCller</LastName><FirstName>S\xF8ren</FirstName>"
      "</Params></RequestResponse>";
  auto r = DecodeRequestResponse(latin1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->params.TextOf("LastName"), "M\xC3\xBCller");
  EXPECT_EQ(r->params.TextOf("FirstName"), "S\xC3\xB8ren");

  // 0x80 is the euro sign in windows-1252.
  const std::string cp1252 =
      "<?xml version='1.0' encoding='windows-1252'?><RequestResponse><RequestName>X"
      "</RequestName><Params><Price>\x80 5</Price></Params></RequestResponse>";
  r = DecodeRequestResponse(cp1252);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->params.TextOf("Price"), "\xE2\x82\xAC 5");

  // UTF-8 stays UTF-8, with or without a byte order mark.
  r = DecodeRequestResponse(
      "\xEF\xBB\xBF<RequestResponse><RequestName>X</RequestName><Params><N>\xC3\xBC</N>"
      "</Params></RequestResponse>");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->params.TextOf("N"), "\xC3\xBC");
}

TEST(ShipMessageTest, BadDocumentsGetSpecificErrors) {
  struct Case {
    std::string xml;
    std::string message;
  };
  const Case cases[] = {
      {"", "the message is empty"},
      {"<!-- nothing -->", "No document element found"},
      {"<RequestResponse><RequestName>X</RequestName>", "malformed XML at byte"},
      {"<html><body>Login</body></html>", "expected a <RequestResponse> element, got <html>"},
      {"<RequestResponse><Params/></RequestResponse>", "has no <RequestName>"},
      {"<RequestResponse><RequestName>X</RequestName><Exception><Code>x</Code></Exception>"
       "</RequestResponse>",
       "no numeric <Code>"},
      {"<RequestResponse><RequestName>X\xFF</RequestName></RequestResponse>",
       "not valid UTF-8 at byte 31"},
      {"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><RequestResponse/>",
       "unsupported XML encoding 'shift_jis'"},
      {std::string("\xFF\xFE<\0R\0", 6), "UTF-16"},
  };
  for (const auto& c : cases) {
    auto r = DecodeRequestResponse(c.xml);
    ASSERT_FALSE(r.ok()) << c.xml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.xml;
  }
}

TEST(ShipMessageTest, EntitiesAreNeverExpandedAndLimitsHold) {
  // A DTD with an external entity and an entity bomb: nothing of it is applied.
  const std::string xxe =
      "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">"
      "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
      "<RequestResponse><RequestName>X</RequestName><Params><F>&x;</F><G>&b;</G></Params>"
      "</RequestResponse>";
  auto r = DecodeRequestResponse(xxe);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(std::string(r->params.TextOf("F")), Not(HasSubstr("root:")));
  EXPECT_LT(r->params.TextOf("G").size(), 16u);

  std::string deep = "<RequestResponse><RequestName>X</RequestName><Params>";
  for (int i = 0; i < 40; ++i) deep += "<a>";
  for (int i = 0; i < 40; ++i) deep += "</a>";
  deep += "</Params></RequestResponse>";
  r = DecodeRequestResponse(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("nested deeper than 32"));

  DecodeLimits small;
  small.max_bytes = 100;
  r = DecodeRequestResponse(std::string(200, ' '), small);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("more than the limit of 100"));
  small.max_bytes = 1 << 20;
  small.max_elements = 5;
  r = DecodeRequestResponse(
      "<RequestResponse><RequestName>X</RequestName><Params><a/><b/><c/><d/></Params>"
      "</RequestResponse>",
      small);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("more than 5 elements"));
}

TEST(ShipMessageTest, ValueConventions) {
  EXPECT_EQ(ParseBool("1"), true);
  EXPECT_EQ(ParseBool("0"), false);
  EXPECT_EQ(ParseBool("true"), true);
  EXPECT_EQ(ParseBool("yes"), std::nullopt);
  EXPECT_EQ(FormatBool(true), "1");

  auto t = ParseDateTime("2028-02-29T23:59:59");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatDateTime(*t), "2028-02-29T23:59:59");
  EXPECT_EQ(ParseDateTime("2027-02-29T00:00:00"), std::nullopt);  // not a leap year
  EXPECT_EQ(ParseDateTime("2026-12-01T24:00:00"), std::nullopt);
  EXPECT_EQ(ParseDateTime("2026-12-01 08:00:00"), std::nullopt);
  EXPECT_EQ(ParseDateTime("2026-12-01T08:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseDateTime("2026-12-01T08:00"), std::nullopt);
  EXPECT_LT(*ParseDateTime("2026-12-01T08:00:00"), *ParseDateTime("2026-12-01T08:00:01"));

  EXPECT_EQ(ErrorCodeText(200), "user not found");
  EXPECT_EQ(ErrorCodeText(7777), "error code 7777");
  EXPECT_EQ(StatusOf({7777, ""}, "X").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusOf({200, ""}, "X").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace facegate::ship
