#include "photoset/photo_set.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "facegate/face/face_engine.h"
#include "facegate/face/matching.h"
#include "photoset/render.h"

namespace facegate::photoset {

Result<PhotoSet> MakePhotoSet(const PhotoSetOptions& options) {
  auto opened = OpenEngine(options.models_dir, options.workers);
  if (!opened.ok()) return opened.status();
  face::FaceEngine& engine = **opened;

  // 1. The people in the demo photos.
  auto people = FindDemoPeople(engine, options.models_dir);
  if (!people.ok()) return people.status();
  const std::vector<cv::Mat>& photos = people->photos;
  const std::vector<face::FaceTemplate>& refs = people->refs;
  const int identities = static_cast<int>(refs.size());
  if (identities < 2) return Status::FailedPrecondition("fewer than two people in the demo photos");

  // 2. Checked photos per identity, in rounds until each has enough.
  const int k_photos = std::max(1, options.photos_per_row);
  const int rows_each =
      (options.target_photos + identities * k_photos - 1) / (identities * k_photos);
  const int needed = rows_each * k_photos;
  std::mt19937 rng(options.seed);
  std::vector<std::vector<std::string>> good(identities);
  int analysed = 0;
  double seconds = 0;
  for (int round = 0; round < 12; ++round) {
    std::vector<Candidate> cands;
    for (int id = 0; id < identities; ++id) {
      int missing = needed - static_cast<int>(good[id].size());
      if (missing <= 0) continue;
      const std::vector<const SeedFace*> mine = people->SeedsOf(id);
      // Half again as many as missing: some renders fail the checks.
      for (int n = 0; n < missing + missing / 2 + 1; ++n) {
        const SeedFace& s = *mine[rng() % mine.size()];
        std::uniform_int_distribution<int> quality(75, 95);
        cands.push_back(
            Candidate{id, Encode(Render(photos[s.photo], s, rng), quality(rng)), {}, 0});
      }
    }
    if (cands.empty()) break;
    seconds += AnalyzeAll(engine, cands);
    analysed += static_cast<int>(cands.size());
    for (auto& c : cands) {
      if (static_cast<int>(good[c.identity].size()) >= needed) continue;
      auto t = OnlyFace(c);
      if (!t || face::L2Distance(*t, refs[c.identity]) > kOwnMax) continue;
      bool clear = true;
      for (int other = 0; other < identities; ++other) {
        if (other != c.identity && face::L2Distance(*t, refs[other]) < kOtherMin) clear = false;
      }
      if (clear) good[c.identity].push_back(std::move(c.jpeg));
    }
  }

  // 3. Files and the CSV: identity rows interleaved, bad rows among them.
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir / "photos", ec);
  if (ec) return Status::IOError("cannot create " + (options.out_dir / "photos").string());
  PhotoSet set;
  set.csv = options.out_dir / "import.csv";
  set.identities = identities;
  set.photos_per_row = k_photos;
  set.engine_photos_per_second = seconds > 0 ? analysed / seconds : 0;
  std::string csv = "external_id,first_name,last_name,photo,groups\n";
  int line = 1, file_no = 0;
  auto photo_file = [&](std::string_view bytes, const char* ext) -> Result<std::string> {
    char name[32];
    std::snprintf(name, sizeof name, "p%05d.%s", file_no++, ext);
    FACEGATE_RETURN_IF_ERROR(WriteBytes(options.out_dir / "photos" / name, bytes));
    return std::string("photos/") + name;
  };
  auto add_row = [&](const std::string& id, const std::string& photo_list) {
    csv += id + ",First " + id + ",Last," + photo_list + ",\n";
    ++line;
    ++set.rows;
  };
  for (int r = 0; r < rows_each; ++r) {
    for (int id = 0; id < identities; ++id) {
      if (static_cast<int>(good[id].size()) < (r + 1) * k_photos) continue;
      std::string list;
      for (int k = 0; k < k_photos; ++k) {
        auto f = photo_file(good[id][r * k_photos + k], "jpg");
        if (!f.ok()) return f.status();
        list += (k ? ";" : "") + *f;
      }
      char ext_id[32];
      std::snprintf(ext_id, sizeof ext_id, "P%02d-%03d", id, r);
      add_row(ext_id, list);
      set.rows_of_identity[id].push_back(ext_id);
      set.good_photos += k_photos;
    }
  }

  // Bad files, each checked with the engine where the engine decides.
  auto bad_row = [&](const std::string& id, const std::string& photo_list, std::string reason) {
    add_row(id, photo_list);
    set.rejections.push_back(ExpectedRejection{line, id, std::move(reason)});
  };
  auto engine_reason = [&](const std::string& bytes) -> std::string {
    face::AnalyzeRequest r;
    r.image = bytes;
    r.priority = face::Priority::kBulk;
    auto a = engine.Analyze(std::move(r));
    if (!a.ok()) return "internal";
    return std::string(face::ReasonCategory(a->verdict));
  };
  const std::string sample = good[0].empty() ? Encode(photos[1], 90) : good[0][0];
  cv::Mat grey(kHeight, kWidth, CV_8UC3, cv::Scalar(128, 128, 128));
  bad_row("BAD-missing", "photos/does-not-exist.jpg", "unreadable_file");
  {
    auto f = photo_file("this is a text file, not a photo\n", "jpg");
    if (!f.ok()) return f.status();
    bad_row("BAD-text", *f, "unsupported_format");
  }
  {
    std::string truncated = sample.substr(0, sample.size() / 3);
    auto f = photo_file(truncated, "jpg");
    if (!f.ok()) return f.status();
    bad_row("BAD-truncated", *f, engine_reason(truncated));
  }
  {
    std::string nobody = Encode(grey, 90);
    auto f = photo_file(nobody, "jpg");
    if (!f.ok()) return f.status();
    bad_row("BAD-nobody", *f, engine_reason(nobody));
  }
  if (good.size() >= 2 && !good[0].empty() && !good[1].empty()) {
    cv::Mat a = cv::imdecode(cv::Mat(1, static_cast<int>(good[0][0].size()), CV_8U,
                                     const_cast<char*>(good[0][0].data())),
                             cv::IMREAD_COLOR);
    cv::Mat b = cv::imdecode(cv::Mat(1, static_cast<int>(good[1][0].size()), CV_8U,
                                     const_cast<char*>(good[1][0].data())),
                             cv::IMREAD_COLOR);
    cv::Mat both;
    cv::hconcat(a, b, both);
    std::string two = Encode(both, 90);
    auto f = photo_file(two, "jpg");
    if (!f.ok()) return f.status();
    bad_row("BAD-two-people", *f, engine_reason(two));

    cv::Mat blurred;
    cv::GaussianBlur(a, blurred, cv::Size(0, 0), 6);
    std::string soft = Encode(blurred, 90);
    f = photo_file(soft, "jpg");
    if (!f.ok()) return f.status();
    bad_row("BAD-blurred", *f, engine_reason(soft));

    cv::Mat small, tiny = grey.clone();
    cv::resize(a, small, cv::Size(kWidth / 5, kHeight / 5), 0, 0, cv::INTER_AREA);
    small.copyTo(tiny(cv::Rect(kWidth / 2, kHeight / 2, small.cols, small.rows)));
    std::string far = Encode(tiny, 90);
    f = photo_file(far, "jpg");
    if (!f.ok()) return f.status();
    bad_row("BAD-far-away", *f, engine_reason(far));

    // A row with one good and one bad photo is rejected as a whole.
    auto good_file = photo_file(good[0][0], "jpg");
    auto bad_file = photo_file(Encode(grey, 80), "jpg");
    if (!good_file.ok() || !bad_file.ok()) return Status::IOError("cannot write photos");
    bad_row("BAD-half-good", *good_file + ";" + *bad_file, "no_face");
  }
  // Malformed CSV lines: too many fields, no external id.
  csv += "BAD-columns,A,B,photos/x.jpg,,extra,fields\n";
  ++line;
  ++set.rows;
  set.rejections.push_back(ExpectedRejection{line, "BAD-columns", "bad_csv_line"});
  csv += ",No,Id,photos/x.jpg,\n";
  ++line;
  ++set.rows;
  set.rejections.push_back(ExpectedRejection{line, "", "bad_csv_line"});
  FACEGATE_RETURN_IF_ERROR(WriteBytes(set.csv, csv));
  return set;
}

}  // namespace facegate::photoset
