// The CSV of facegatectl import: RFC 4180 quoting, line ends, the BOM, bad lines with their
// numbers, photo columns, validity dates.
#include "app/import_csv.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace facegate::app::import {
namespace {

using ::testing::Test;

// Dates are local: run the tests in known zones, put back afterwards.
class ZoneGuard {
 public:
  explicit ZoneGuard(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ZoneGuard() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

std::vector<std::vector<std::string>> Fields(std::string_view text) {
  std::vector<std::vector<std::string>> out;
  for (auto& r : ReadCsvRecords(text)) out.push_back(r.fields);
  return out;
}

TEST(CsvRecordsTest, PlainFieldsAndLineEnds) {
  using V = std::vector<std::vector<std::string>>;
  EXPECT_EQ(Fields("a,b,c\n1,2,3\n"), (V{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(Fields("a,b\r\n1,2\r\n"), (V{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(Fields("a,b\r1,2"), (V{{"a", "b"}, {"1", "2"}}));  // lone CR, no final newline
  EXPECT_EQ(Fields("a,,\n"), (V{{"a", "", ""}}));
  EXPECT_TRUE(Fields("").empty());
  EXPECT_TRUE(Fields("\n\r\n\n").empty());  // blank lines are no records
}

TEST(CsvRecordsTest, QuotedFields) {
  auto r = ReadCsvRecords(
      "id,name\n"
      "1,\"Lovelace, Ada\"\n"
      "2,\"say \"\"hi\"\"\"\n"
      "3,\"two\nlines\"\n"
      "4,\"\"\n");
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[1].fields[1], "Lovelace, Ada");
  EXPECT_EQ(r[2].fields[1], "say \"hi\"");
  EXPECT_EQ(r[3].fields[1], "two\nlines");
  EXPECT_EQ(r[4].fields[1], "");
  for (const auto& rec : r) EXPECT_EQ(rec.error, "") << rec.line;
}

TEST(CsvRecordsTest, LineNumbersCountEmbeddedNewlines) {
  auto r = ReadCsvRecords(
      "h1,h2\r\n"
      "a,\"x\r\ny\r\nz\"\r\n"
      "\r\n"
      "b,c\r\n");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].line, 1);
  EXPECT_EQ(r[1].line, 2);
  EXPECT_EQ(r[1].fields[1], "x\r\ny\r\nz");
  EXPECT_EQ(r[2].line, 6);  // the record on 2-4, a blank line 5
}

TEST(CsvRecordsTest, ByteOrderMarkIsSkipped) {
  auto r = ReadCsvRecords(
      "\xEF\xBB\xBF"
      "external_id,photo\nE1,a.jpg\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields[0], "external_id");
}

TEST(CsvRecordsTest, MalformedQuotes) {
  auto r = ReadCsvRecords("a,\"b\"x,c\nd,e,f\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_NE(r[0].error.find("after the closing quote of field 2"), std::string::npos) << r[0].error;
  EXPECT_EQ(r[0].fields.size(), 3u);  // the record still ends where it should
  EXPECT_EQ(r[1].error, "");

  auto open = ReadCsvRecords("a,b\n1,\"never closed\n2,3\n");
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[1].line, 2);
  EXPECT_NE(open[1].error.find("not closed (its quote opens on line 2)"), std::string::npos);

  // A quote inside an unquoted field is taken as it is (as spreadsheets write it).
  auto inner = ReadCsvRecords("a,5\" screen\n");
  ASSERT_EQ(inner.size(), 1u);
  EXPECT_EQ(inner[0].fields[1], "5\" screen");
  EXPECT_EQ(inner[0].error, "");
}

TEST(ImportCsvTest, RowsByHeaderName) {
  auto csv = ParseImportCsv(
      "\xEF\xBB\xBF"
      "External ID,First Name,last_name,Photo,groups\r\n"
      "E1001,Ada,Lovelace,ada.jpg,staff;\"lab\"\r\n"
      "E1002, Alan ,\"Turing\",\"a/alan 1.jpg; a/alan 2.jpg\",\r\n");
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  ASSERT_EQ(csv->rows.size(), 2u);
  EXPECT_TRUE(csv->bad_lines.empty());
  const ImportRow& ada = csv->rows[0];
  EXPECT_EQ(ada.line, 2);
  EXPECT_EQ(ada.external_id, "E1001");
  EXPECT_EQ(ada.first_name, "Ada");
  EXPECT_EQ(ada.last_name, "Lovelace");
  EXPECT_EQ(ada.photos, std::vector<std::string>{"ada.jpg"});
  EXPECT_EQ(ada.groups, (std::vector<std::string>{"staff", "\"lab\""}));
  const ImportRow& alan = csv->rows[1];
  EXPECT_EQ(alan.line, 3);
  EXPECT_EQ(alan.first_name, "Alan");
  EXPECT_EQ(alan.photos, (std::vector<std::string>{"a/alan 1.jpg", "a/alan 2.jpg"}));
  EXPECT_TRUE(alan.groups.empty());
  EXPECT_FALSE(alan.valid_from);
}

TEST(ImportCsvTest, SeveralPhotoColumns) {
  auto csv = ParseImportCsv(
      "external_id,photo1,photo2,photo_3\n"
      "E1,a.jpg,b.jpg;c.jpg,\n"
      "E2,,d.png,\n");
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  ASSERT_EQ(csv->rows.size(), 2u);
  EXPECT_EQ(csv->rows[0].photos, (std::vector<std::string>{"a.jpg", "b.jpg", "c.jpg"}));
  EXPECT_EQ(csv->rows[1].photos, std::vector<std::string>{"d.png"});
  EXPECT_FALSE(csv->rows[0].first_name);  // no such column
}

TEST(ImportCsvTest, BadLinesCarryTheirNumbers) {
  auto csv = ParseImportCsv(
      "external_id,first_name,photo,valid_from,valid_until\n"  // 1
      "E1,Ada,ada.jpg,,\n"                                     // 2 good
      "E2,Bob,bob.jpg\n"                                       // 3 too few fields
      ",Carl,carl.jpg,,\n"                                     // 4 no id
      "E4,Dan,,,\n"                                            // 5 no photo
      "E5,Eve,eve.jpg,2026-13-01,\n"                           // 6 bad date
      "E6,\"Fay\nFrance\",fay.jpg,yesterday,\n"                // 7-8 bad date, two lines
      "E1,Ada again,ada2.jpg,,\n"                              // 9 duplicate id
      "E8,\"Gus\"x,gus.jpg,,\n"                                // 10 bad quoting
      "E9,Hal,hal.jpg,2026-06-01,2026-05-01\n"                 // 11 from after until
      "E10,Ivy,ivy.jpg,,,\n");                                 // 12 too many fields
  ASSERT_TRUE(csv.ok()) << csv.status().message();
  ASSERT_EQ(csv->rows.size(), 1u);
  EXPECT_EQ(csv->rows[0].external_id, "E1");
  ASSERT_EQ(csv->bad_lines.size(), 9u);
  auto expect = [&](size_t i, int line, const std::string& id, const std::string& part) {
    const BadLine& b = csv->bad_lines[i];
    EXPECT_EQ(b.line, line) << b.message;
    EXPECT_EQ(b.external_id, id) << b.message;
    EXPECT_EQ(b.message.rfind("bad CSV line " + std::to_string(line) + ": ", 0), 0u) << b.message;
    EXPECT_NE(b.message.find(part), std::string::npos) << b.message;
  };
  expect(0, 3, "E2", "3 fields, the header has 5");
  expect(1, 4, "", "no external_id");
  expect(2, 5, "E4", "no photo");
  expect(3, 6, "E5", "valid_from '2026-13-01' is not an RFC 3339 time");
  expect(4, 7, "E6", "valid_from 'yesterday'");
  expect(5, 9, "E1", "is on line 2 already");
  expect(6, 10, "E8", "after the closing quote");
  expect(7, 11, "E9", "is not before valid_until");
  expect(8, 12, "E10", "6 fields, the header has 5");
  EXPECT_EQ(csv->records(), 10u);
}

TEST(ImportCsvTest, HeaderProblemsAreErrors) {
  EXPECT_FALSE(ParseImportCsv("").ok());
  EXPECT_FALSE(ParseImportCsv("\xEF\xBB\xBF\n\n").ok());
  auto no_id = ParseImportCsv("id,photo\n1,a.jpg\n");
  ASSERT_FALSE(no_id.ok());
  EXPECT_NE(no_id.status().message().find("no external_id column"), std::string::npos);
  auto no_photo = ParseImportCsv("external_id,first_name\nE1,Ada\n");
  ASSERT_FALSE(no_photo.ok());
  EXPECT_NE(no_photo.status().message().find("no photo column"), std::string::npos);
  auto twice = ParseImportCsv("external_id,photo,External ID\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("twice (columns 1 and 3)"), std::string::npos);
  auto semicolons = ParseImportCsv("external_id;first_name;photo\nE1;Ada;a.jpg\n");
  ASSERT_FALSE(semicolons.ok());
  EXPECT_NE(semicolons.status().message().find("semicolons"), std::string::npos);
}

TEST(ImportCsvTest, UnknownColumnsAreWarnedAboutAndIgnored) {
  auto csv = ParseImportCsv("external_id,photo,badge\nE1,a.jpg,42\n");
  ASSERT_TRUE(csv.ok());
  ASSERT_EQ(csv->warnings.size(), 1u);
  EXPECT_NE(csv->warnings[0].find("'badge'"), std::string::npos);
  EXPECT_EQ(csv->rows.size(), 1u);
}

TEST(ImportCsvTest, ValidityTimesAndDates) {
  ZoneGuard zone("UTC0");
  auto csv = ParseImportCsv(
      "external_id,photo,valid_from,valid_until\n"
      "E1,a.jpg,2026-12-01T08:00:00+01:00,2027-01-31T23:59:59.5Z\n"
      "E2,b.jpg,2026-12-01,2026-12-31\n"
      "E3,c.jpg,,2024-02-28\n");
  ASSERT_TRUE(csv.ok());
  ASSERT_EQ(csv->rows.size(), 3u) << (csv->bad_lines.empty() ? "" : csv->bad_lines[0].message);
  EXPECT_EQ(csv->rows[0].valid_from, "2026-12-01T07:00:00.000Z");
  EXPECT_EQ(csv->rows[0].valid_until, "2027-01-31T23:59:59.500Z");
  // A date is the whole day: valid from its start until the next midnight (half-open).
  EXPECT_EQ(csv->rows[1].valid_from, "2026-12-01T00:00:00.000Z");
  EXPECT_EQ(csv->rows[1].valid_until, "2027-01-01T00:00:00.000Z");
  EXPECT_FALSE(csv->rows[2].valid_from);
  EXPECT_EQ(csv->rows[2].valid_until, "2024-02-29T00:00:00.000Z");  // a leap year
}

TEST(ImportCsvTest, DatesAreLocalDays) {
  // Central Europe: UTC+1 in winter, UTC+2 in summer (POSIX rule, no tz database needed).
  ZoneGuard zone("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(NormalizeValidity("2026-12-01", false), "2026-11-30T23:00:00.000Z");
  EXPECT_EQ(NormalizeValidity("2026-07-01", false), "2026-06-30T22:00:00.000Z");
  // The night the clocks go back: the day has 25 hours, its end is the next local midnight.
  EXPECT_EQ(NormalizeValidity("2026-10-25", true), "2026-10-25T23:00:00.000Z");
  EXPECT_FALSE(NormalizeValidity("2026-02-29", false));  // no such day
  EXPECT_FALSE(NormalizeValidity("2026-2-01", false));
  EXPECT_FALSE(NormalizeValidity("01.12.2026", false));
  EXPECT_EQ(NormalizeValidity(" 2026-12-01T08:00:00Z ", false), "2026-12-01T08:00:00.000Z");
}

}  // namespace
}  // namespace facegate::app::import
