// Black-box: `facegatectl import` of a generated set of 500+ photos (tools/photoset: crops,
// flips and small transforms of the demo photos, several photos per real person, bad files
// and bad CSV lines) into a real facegated with the face engine: the counts match, the report
// lists every bad row with its reason and every duplicate with the user it duplicates, a
// second run imports nothing new, and a run killed half-way and resumed ends in the same
// state as an uninterrupted one. Labelled "face" (ImportTest.Face*).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "blackbox/ctl_api_fixture.h"
#include "photoset/photo_set.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace facegate::testing {
namespace {

// The set is made once per test process (it takes the face engine half a minute or more).
const photoset::PhotoSet& Set() {
  static TempDir dir;
  static Result<photoset::PhotoSet> set = [] {
    photoset::PhotoSetOptions o;
    o.models_dir = ModelsDir();
    o.out_dir = dir.path();
#if defined(__SANITIZE_ADDRESS__)
    o.target_photos = 120;  // ASan makes the face work ~10x slower: a smaller set, same paths
#endif
    return photoset::MakePhotoSet(o);
  }();
  EXPECT_TRUE(set.ok()) << set.status().ToString();
  static photoset::PhotoSet empty;
  return set.ok() ? *set : empty;
}

struct ReportRow {
  std::string external_id, reason, message;
};

// The report CSV: line -> row (its fields have no quotes in this set, except messages).
std::map<int, ReportRow> ReadReport(const std::filesystem::path& file) {
  std::map<int, ReportRow> out;
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string n, id, reason, message;
    std::getline(s, n, ',');
    std::getline(s, id, ',');
    std::getline(s, reason, ',');
    std::getline(s, message);
    out[std::stoi(n)] = ReportRow{id, reason, message};
  }
  return out;
}

class ImportTest : public CtlApiTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ModelsDir() / "shape_predictor_68_face_landmarks.dat")) {
      GTEST_SKIP() << "no model files in " << ModelsDir() << " (run scripts/setup)";
    }
    ASSERT_GT(Set().rows, 0);
    StartDaemon(/*face=*/true);
    token_file_ = WriteToken("admin.token", admin_token_);
    // A copy of the set's CSV in this test's directory: the report and the journal go beside
    // it, and the photos are read from the set's directory.
    csv_ = daemon_.dir() / "import.csv";
    std::filesystem::copy_file(Set().csv, csv_);
  }

  std::vector<std::string> ImportArgs(std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {
        "import", csv_.string(), "--photos", Set().csv.parent_path().string(),
        "--jobs", "4",           "--json"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // Users and their template counts, through the API.
  std::map<std::string, int> State() {
    std::map<std::string, int> out;
    std::string cursor;
    for (;;) {
      ApiReply r =
          admin_->Get("/api/v1/users?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(r.status, 200) << Describe(r);
      if (r.status != 200) break;
      for (const auto& u : r.json["items"]) {
        ApiReply one = admin_->Get("/api/v1/users/" + u["external_id"].get<std::string>());
        out[u["external_id"]] = one.json.value("faces", -1);
      }
      if (r.json["next_cursor"].is_null()) break;
      cursor = r.json["next_cursor"];
    }
    return out;
  }

  // What every finished import must have produced, whatever the order of its batches.
  void ExpectFinalState(const std::map<std::string, int>& state, const json& summary) {
    const auto& set = Set();
    EXPECT_EQ(summary["rows"], set.rows) << summary.dump(2);
    EXPECT_EQ(static_cast<int>(state.size()), set.identities) << "one user per real person";
    std::map<std::string, int> imported_of;  // external id -> identity
    for (const auto& [identity, ids] : set.rows_of_identity) {
      int imported = 0;
      for (const auto& id : ids) {
        if (state.count(id)) {
          ++imported;
          imported_of[id] = identity;
          EXPECT_EQ(state.at(id), set.photos_per_row) << id;
        }
      }
      EXPECT_EQ(imported, 1) << "identity " << identity << ": exactly one of its rows imported";
    }
    auto report = ReadReport(summary["report"].get<std::string>());
    // Every bad row with its reason...
    for (const auto& want : set.rejections) {
      ASSERT_TRUE(report.count(want.line)) << "line " << want.line << " not in the report";
      EXPECT_EQ(report[want.line].reason, want.reason)
          << "line " << want.line << " " << want.external_id << ": " << report[want.line].message;
    }
    // ...and every other row of a person as a duplicate naming the user who has the face.
    int duplicates = 0;
    for (const auto& [line, row] : report) {
      if (row.external_id.rfind("P", 0) != 0) continue;
      EXPECT_EQ(row.reason, "duplicate") << line << " " << row.external_id << ": " << row.message;
      ++duplicates;
      const std::string identity_prefix = row.external_id.substr(0, 3);  // "P07"
      bool names_owner = false;
      for (const auto& [id, identity] : imported_of) {
        if (id.rfind(identity_prefix, 0) == 0 && row.message.find(id) != std::string::npos) {
          names_owner = true;
        }
      }
      EXPECT_TRUE(names_owner) << row.external_id << ": " << row.message;
    }
    int person_rows = 0;
    for (const auto& [identity, ids] : set.rows_of_identity) person_rows += ids.size();
    EXPECT_EQ(duplicates, person_rows - set.identities);
    EXPECT_EQ(summary["rejected"], static_cast<int>(report.size()));
    EXPECT_EQ(static_cast<int>(report.size()),
              set.rows - set.identities);  // all but one row per person
  }

  std::filesystem::path csv_;
};

TEST_F(ImportTest, FaceImportCountsReportIdempotenceAndResume) {
  const auto& set = Set();
  ASSERT_GE(set.good_photos, 100);
  // 1. Uninterrupted.
  CtlResult r = Ctl(ImportArgs());
  ASSERT_EQ(r.code, 1) << "rows were rejected, so the exit status is 1: " << Describe(r);
  json summary = ParseJson(r);
  EXPECT_EQ(summary["imported"], set.identities) << summary.dump(2);
  EXPECT_EQ(summary["skipped"], 0);
  EXPECT_GE(summary["photos"].get<int>(), set.good_photos);
  std::printf("[ import ] %d rows, %d photos in %.1f s: %.1f photos/s (engine alone: %.1f/s)\n",
              set.rows, summary["photos"].get<int>(), summary["seconds"].get<double>(),
              summary["photos_per_second"].get<double>(), set.engine_photos_per_second);
  auto uninterrupted = State();
  ExpectFinalState(uninterrupted, summary);

  // 2. Again: nothing new.
  r = Ctl(ImportArgs());
  ASSERT_EQ(r.code, 1) << Describe(r);
  json again = ParseJson(r);
  EXPECT_EQ(again["imported"], 0) << again.dump(2);
  EXPECT_EQ(again["skipped"], set.identities);
  EXPECT_EQ(State(), uninterrupted);

  // 3. Into a second site: killed half-way (SIGKILL: a crash, no clean-up), then resumed.
  ASSERT_TRUE(daemon_.Stop().has_value());
  FacegatedUnderTest other;
  other.config()["face"] = {{"enabled", true}, {"models_dir", ModelsDir().string()}};
  other.WriteConfig();
  auto init = other.Run({"--init", "--config", other.config_path().string()});
  ASSERT_TRUE(init.ok());
  std::smatch m;
  std::regex token_re("(fgt_[A-Za-z0-9_-]{43})");
  ASSERT_TRUE(std::regex_search(init->output, m, token_re)) << init->output;
  ASSERT_TRUE(other.Start(std::chrono::seconds(120)).ok());
  const auto token_file = WriteToken("other.token", m[1]);
  const auto csv2 = other.dir() / "import.csv";
  std::filesystem::copy_file(Set().csv, csv2);
  std::vector<std::string> args = {CtlBinary().string(),
                                   "import",
                                   csv2.string(),
                                   "--photos",
                                   Set().csv.parent_path().string(),
                                   "--jobs",
                                   "4",
                                   "--json",
                                   "--url",
                                   "https://127.0.0.1:" + std::to_string(other.admin_port()),
                                   "--ca",
                                   (other.pki_dir() / "ca.crt").string(),
                                   "--token-file",
                                   token_file.string()};
  ChildProcess importer;
  ASSERT_TRUE(importer.Start(args, other.dir() / "import-killed.log").ok());
  const auto journal = other.dir() / "import.csv.import-state";
  auto journal_lines = [&] {
    std::ifstream in(journal);
    return static_cast<int>(
        std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
  };
  ASSERT_TRUE(PollUntil([&] { return journal_lines() >= set.rows / 2; }, std::chrono::minutes(5)))
      << importer.ReadLog();
  importer.Signal(SIGKILL);
  ASSERT_TRUE(importer.WaitForExit(std::chrono::seconds(10)).has_value());
  const int finished_before = journal_lines();
  ASSERT_LT(finished_before, set.rows + 2) << "it finished before the kill";

  admin_ = std::make_unique<AdminClient>(&other, m[1]);  // State() reads the other site now
  auto halfway = State();
  EXPECT_LE(halfway.size(), uninterrupted.size());

  args.push_back("--resume");
  auto resumed = RunProcess(args, other.dir() / "import-resumed.log", std::chrono::minutes(10));
  ASSERT_TRUE(resumed.ok() && resumed->exit.has_value()) << (resumed.ok() ? resumed->output : "");
  EXPECT_EQ(resumed->exit->code, 1) << resumed->output;
  // The JSON summary is the last thing on stdout (the log interleaves stderr lines before it).
  const auto brace = resumed->output.find("{\n");
  ASSERT_NE(brace, std::string::npos) << resumed->output;
  json resumed_summary = json::parse(resumed->output.substr(brace), nullptr, false);
  ASSERT_TRUE(resumed_summary.is_object()) << resumed->output;
  EXPECT_GT(resumed_summary["resumed"].get<int>(), 0) << resumed_summary.dump(2);
  auto after_resume = State();
  ExpectFinalState(after_resume, resumed_summary);
  // The same state as the uninterrupted run: per person one user with the same number of
  // templates (which of a person's rows won may differ: batches run in parallel).
  auto per_person = [](const std::map<std::string, int>& state) {
    std::map<std::string, int> out;
    for (const auto& [id, faces] : state) out[id.substr(0, 3)] = faces;
    return out;
  };
  EXPECT_EQ(per_person(after_resume), per_person(uninterrupted));
}

}  // namespace
}  // namespace facegate::testing
