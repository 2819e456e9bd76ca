// The journal of facegatectl import --resume: append and reload, a torn or garbled tail, a
// journal of another CSV, a fresh run replacing an old journal.
#include "app/import_journal.h"

#include <gtest/gtest.h>

#include <fstream>

#include "facegate/core/files.h"
#include "testing/temp_dir.h"

namespace facegate::app::import {
namespace {

using testing::TempDir;

const std::string kCsvA = Sha256Hex("external_id,photo\nE1,a.jpg\n");
const std::string kCsvB = Sha256Hex("external_id,photo\nE1,b.jpg\n");

std::string Contents(const std::filesystem::path& p) {
  auto text = ReadFile(p);
  return text.ok() ? *text : "<" + text.status().message() + ">";
}

void AppendRaw(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(ImportJournalTest, Sha256Hex) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_NE(kCsvA, kCsvB);
}

TEST(ImportJournalTest, LinesRoundTripWithEscapes) {
  JournalEntry e{12, "rejected", "E\t1", "no_face", "photo a\\b.jpg:\nno face\r"};
  const std::string line = ImportJournal::EncodeLine(e);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one physical line
  EXPECT_EQ(std::count(line.begin(), line.end(), '\t'), 4);
  auto back = ImportJournal::DecodeLine(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, e);

  EXPECT_FALSE(ImportJournal::DecodeLine(""));
  EXPECT_FALSE(ImportJournal::DecodeLine("12\timported\tE1\t"));     // 4 fields
  EXPECT_FALSE(ImportJournal::DecodeLine("x\timported\tE1\t\t"));    // no line number
  EXPECT_FALSE(ImportJournal::DecodeLine("0\timported\tE1\t\t"));    // lines start at 1
  EXPECT_FALSE(ImportJournal::DecodeLine("3\t\tE1\t\t"));            // no status
  EXPECT_FALSE(ImportJournal::DecodeLine("3\timported\tE\\q\t\t"));  // unknown escape
  EXPECT_TRUE(ImportJournal::DecodeLine("3\timported\tE1\t\t"));
}

TEST(ImportJournalTest, AppendThenResume) {
  TempDir dir;
  const auto file = dir / "staff.csv.import-state";
  ImportJournal::Loaded loaded;
  {
    auto j = ImportJournal::Open(file, kCsvA, /*resume=*/true, &loaded);  // none yet: a new one
    ASSERT_TRUE(j.ok()) << j.status().message();
    EXPECT_FALSE(loaded.existed);
    EXPECT_TRUE(loaded.entries.empty());
    ASSERT_TRUE((*j)->Append({{2, "imported", "E1", "", ""}, {3, "skipped", "E2", "", "x"}}).ok());
    ASSERT_TRUE((*j)->Append({{5, "rejected", "E4", "no_face", "photo d.jpg: no face"}}).ok());
    ASSERT_TRUE((*j)->Append({}).ok());
  }
  EXPECT_EQ(Contents(file).rfind(ImportJournal::HeaderLine(kCsvA), 0), 0u);

  auto j = ImportJournal::Open(file, kCsvA, true, &loaded);
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_TRUE(loaded.existed);
  EXPECT_EQ(loaded.dropped_bytes, 0u);
  ASSERT_EQ(loaded.entries.size(), 3u);
  EXPECT_EQ(loaded.entries[0], (JournalEntry{2, "imported", "E1", "", ""}));
  EXPECT_EQ(loaded.entries[2],
            (JournalEntry{5, "rejected", "E4", "no_face", "photo d.jpg: no face"}));
  // It appends after what is there.
  ASSERT_TRUE((*j)->Append({{6, "imported", "E5", "", ""}}).ok());
  j->reset();
  ASSERT_TRUE(ImportJournal::Open(file, kCsvA, true, &loaded).ok());
  ASSERT_EQ(loaded.entries.size(), 4u);
  EXPECT_EQ(loaded.entries[3].line, 6);
}

TEST(ImportJournalTest, TornLastLineIsCutOff) {
  TempDir dir;
  const auto file = dir / "j";
  ImportJournal::Loaded loaded;
  {
    auto j = ImportJournal::Open(file, kCsvA, false, &loaded);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append({{2, "imported", "E1", "", ""}}).ok());
  }
  const std::string whole = Contents(file);
  AppendRaw(file, "3\timported\tE");  // the crash came mid-line
  auto j = ImportJournal::Open(file, kCsvA, true, &loaded);
  ASSERT_TRUE(j.ok()) << j.status().message();
  ASSERT_EQ(loaded.entries.size(), 1u);
  EXPECT_EQ(loaded.entries[0].line, 2);
  EXPECT_EQ(loaded.dropped_bytes, std::string("3\timported\tE").size());
  EXPECT_EQ(Contents(file), whole);  // cut off before anything new is appended
  ASSERT_TRUE((*j)->Append({{3, "imported", "E2", "", ""}}).ok());
  j->reset();
  ASSERT_TRUE(ImportJournal::Open(file, kCsvA, true, &loaded).ok());
  ASSERT_EQ(loaded.entries.size(), 2u);
  EXPECT_EQ(loaded.entries[1], (JournalEntry{3, "imported", "E2", "", ""}));
  EXPECT_EQ(loaded.dropped_bytes, 0u);
}

TEST(ImportJournalTest, GarbledTailIsDroppedFromTheFirstBadLine) {
  TempDir dir;
  const auto file = dir / "j";
  ImportJournal::Loaded loaded;
  {
    auto j = ImportJournal::Open(file, kCsvA, false, &loaded);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append({{2, "imported", "E1", "", ""}}).ok());
  }
  AppendRaw(file, std::string("\0\0\0\0\n", 5));  // what a power loss can leave
  AppendRaw(file, ImportJournal::EncodeLine({3, "imported", "E2", "", ""}));
  ASSERT_TRUE(ImportJournal::Open(file, kCsvA, true, &loaded).ok());
  ASSERT_EQ(loaded.entries.size(), 1u);  // nothing after a bad line is trusted
  EXPECT_GT(loaded.dropped_bytes, 5u);
}

TEST(ImportJournalTest, AnotherCsvIsRefusedOnResume) {
  TempDir dir;
  const auto file = dir / "j";
  ImportJournal::Loaded loaded;
  {
    auto j = ImportJournal::Open(file, kCsvA, false, &loaded);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append({{2, "imported", "E1", "", ""}}).ok());
  }
  auto j = ImportJournal::Open(file, kCsvB, true, &loaded);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(j.status().message().find("another version of the CSV"), std::string::npos);

  ASSERT_TRUE(WriteFileAtomically(file, "something else\n").ok());
  auto foreign = ImportJournal::Open(file, kCsvA, true, &loaded);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("not a facegatectl import journal"), std::string::npos);
}

TEST(ImportJournalTest, HeaderTornMeansNothingWasJournaled) {
  TempDir dir;
  const auto file = dir / "j";
  ASSERT_TRUE(WriteFileAtomically(file, "facegate-import-jou").ok());
  ImportJournal::Loaded loaded;
  auto j = ImportJournal::Open(file, kCsvA, true, &loaded);
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_FALSE(loaded.existed);
  EXPECT_EQ(Contents(file), ImportJournal::HeaderLine(kCsvA));
}

TEST(ImportJournalTest, WithoutResumeTheJournalIsReplaced) {
  TempDir dir;
  const auto file = dir / "j";
  ImportJournal::Loaded loaded;
  {
    auto j = ImportJournal::Open(file, kCsvA, false, &loaded);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append({{2, "imported", "E1", "", ""}}).ok());
  }
  // Even one of another CSV: it is not read at all.
  auto j = ImportJournal::Open(file, kCsvB, false, &loaded);
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_TRUE(loaded.entries.empty());
  EXPECT_EQ(Contents(file), ImportJournal::HeaderLine(kCsvB));
  EXPECT_FALSE(std::filesystem::exists(dir / "j.new"));
}

}  // namespace
}  // namespace facegate::app::import
