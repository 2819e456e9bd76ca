// The pieces both test sets are made of (photo_set.h, site_set.h): the people found in the
// demo photos, 640x480 renderings of them, and the face engine run over many renderings at
// once. Internal to tools/photoset.
// Thread-safety: functions; AnalyzeAll runs the engine on the engine's threads.
#pragma once

#include <filesystem>
#include <opencv2/core.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/status.h"
#include "facegate/face/face_engine.h"

namespace facegate::photoset {

inline constexpr int kWidth = 640, kHeight = 480;
// A checked photo is this close to its own identity and this far from every other one, so
// that the daemon's decisions (match threshold 0.50 at the normal level, duplicate check the
// same) cannot hesitate.
inline constexpr float kOwnMax = 0.42f, kOtherMin = 0.60f;
// Demo faces closer than this are taken as one person.
inline constexpr float kSamePerson = 0.60f;

struct SeedFace {
  int photo = 0;
  cv::Point2f centre;
  float side = 0;
  face::FaceTemplate tmpl{};
  int identity = -1;
};

// The people of models/demo/sample1..6.jpg: every face that passes the quality gate, grouped
// into identities (faces closer than kSamePerson are one), with each identity's first face
// as its reference.
struct DemoPeople {
  std::vector<cv::Mat> photos;  // index 1..6
  std::vector<SeedFace> seeds;
  std::vector<face::FaceTemplate> refs;  // one per identity
  int identities() const { return static_cast<int>(refs.size()); }
  std::vector<const SeedFace*> SeedsOf(int identity) const;
};

Result<std::unique_ptr<face::FaceEngine>> OpenEngine(const std::filesystem::path& models_dir,
                                                     int workers);
Result<DemoPeople> FindDemoPeople(face::FaceEngine& engine,
                                  const std::filesystem::path& models_dir);

std::string Encode(const cv::Mat& bgr, int quality);
// A 640x480 frame around `seed` in its photo: moved, zoomed (face 190-260 px wide), turned
// (+-6 degrees), maybe mirrored, with other light.
cv::Mat Render(const cv::Mat& photo, const SeedFace& seed, std::mt19937& rng);

struct Candidate {
  int identity = 0;
  std::string jpeg;
  std::optional<Result<face::FaceAnalysis>> result;
  int tag = 0;  // the caller's
};
// Runs every candidate through the engine in parallel; returns the wall time in seconds.
double AnalyzeAll(face::FaceEngine& engine, std::vector<Candidate>& cands);

// The single accepted face's template when the analysis accepted exactly one face.
std::optional<face::FaceTemplate> OnlyFace(const Candidate& c);

Status WriteBytes(const std::filesystem::path& p, std::string_view bytes);

}  // namespace facegate::photoset
