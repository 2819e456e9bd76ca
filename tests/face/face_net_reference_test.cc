// Our network against the peer: face-api (the package the weights come from) run in Node on
// fixed 150x150 chips gave the descriptors in data/reference/reference.json (produced by
// bench/peer/make_reference.js). Our templates of the same chips must agree within 0.01 L2.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "face/face_net.h"
#include "face/face_test_util.h"
#include "face/pipeline.h"
#include "facegate/core/files.h"
#include "testing/temp_dir.h"

namespace facegate::face {
namespace {

constexpr double kMaxDistanceToPeer = 0.01;

Chip ChipFromPng(const std::filesystem::path& path) {
  cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
  Chip chip;
  if (bgr.empty()) return chip;
  chip.set_size(bgr.rows, bgr.cols);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      chip(y, x) = dlib::rgb_pixel(p[2], p[1], p[0]);
    }
  }
  return chip;
}

TEST(FaceNetReferenceTest, TemplatesAgreeWithFaceApiOnReferenceChips) {
  const auto dir = facegate::testing::SourceDir() / "tests/face/data/reference";
  const auto index = dir / "reference.json";
  // Missing data is a failure, not a skip: this is the only check of the network against
  // an independent implementation.
  auto text = ReadFile(index);
  ASSERT_TRUE(text.ok()) << "face-api reference data missing: expected " << index
                         << " with chip_*.png beside it (produced by face-api in Node; see "
                            "docs/face.md): "
                         << text.status().ToString();
  nlohmann::json root = nlohmann::json::parse(*text, nullptr, false);
  // Either a bare array of {file, descriptor} or an object with them under "chips".
  const nlohmann::json refs = root.is_object() && root.contains("chips") ? root["chips"] : root;
  ASSERT_TRUE(refs.is_array() && !refs.empty())
      << index << ": expected a non-empty array of {file, descriptor} (or under \"chips\")";

  auto net = FaceNet::Load(testing::ModelsDir() / "face_recognition_model-weights_manifest.json");
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  double worst = 0;
  for (const auto& ref : refs) {
    ASSERT_TRUE(ref.contains("file") && ref.contains("descriptor")) << ref.dump().substr(0, 200);
    const std::string file = ref["file"];
    const auto& d = ref["descriptor"];
    ASSERT_EQ(d.size(), static_cast<size_t>(kTemplateSize)) << file;
    FaceTemplate theirs;
    for (int i = 0; i < kTemplateSize; ++i) theirs[i] = d[i].get<float>();

    Chip chip = ChipFromPng(dir / file);
    ASSERT_EQ(chip.nr(), kChipSize) << dir / file << " is missing or not 150x150";
    ASSERT_EQ(chip.nc(), kChipSize) << dir / file;
    auto ours = (*net)->Embed(chip);
    ASSERT_TRUE(ours.ok()) << ours.status().ToString();
    const double dist = L2Distance(*ours, theirs);
    worst = std::max(worst, dist);
    EXPECT_LE(dist, kMaxDistanceToPeer) << file;
  }
  std::printf("%zu reference chips, largest L2 distance to face-api %.5f\n", refs.size(), worst);
  RecordProperty("max_distance_to_face_api", std::to_string(worst));
}

// The whole pipeline (HOG + dlib landmarks + our chip) on the reference capture against
// face-api's descriptor of the same face (its detector and landmarks, the same alignment).
// Two independent detector/landmark chains: they agree well within the same-face tolerance.
TEST(FaceNetReferenceTest, PipelineOnTheReferenceCaptureMatchesFaceApisChip) {
  const auto dir = facegate::testing::SourceDir() / "tests/face/data/reference";
  auto text = ReadFile(dir / "reference.json");
  ASSERT_TRUE(text.ok()) << "face-api reference data missing in " << dir;
  nlohmann::json root = nlohmann::json::parse(*text, nullptr, false);
  if (!root.is_object() || !root.contains("capture")) {
    GTEST_SKIP() << "reference.json has no capture entry";
  }
  const std::string capture_file = root["capture"]["file"];
  const std::string same_face = root["capture"]["same_face_as"];
  FaceTemplate theirs{};
  bool found = false;
  for (const auto& c : root["chips"]) {
    if (c["file"] == same_face) {
      for (int i = 0; i < kTemplateSize; ++i) theirs[i] = c["descriptor"][i].get<float>();
      found = true;
    }
  }
  ASSERT_TRUE(found) << same_face;
  auto image = ReadFile(dir / capture_file);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  Pipeline pipeline(testing::Models(), testing::TestOptions());
  FaceAnalysis a = pipeline.Run(*image, RunParams{});
  ASSERT_TRUE(a.accepted()) << ReasonName(a.verdict) << " " << a.message;
  const double d = L2Distance(*a.AcceptedTemplate(), theirs);
  std::printf("pipeline template of %s vs face-api's %s: %.4f\n", capture_file.c_str(),
              same_face.c_str(), d);
  EXPECT_LT(d, 0.15);
}

}  // namespace
}  // namespace facegate::face
