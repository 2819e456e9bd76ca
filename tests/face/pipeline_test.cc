// The pipeline on the demo photos (models/demo/sample1..6.jpg, group photos from face-api's
// package): detection, stability of templates under small changes, separation of different
// people, and the quality gate's reasons.
#include "face/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <opencv2/imgproc.hpp>

#include "face/face_test_util.h"
#include "face/quality.h"

namespace facegate::face {
namespace {

using testing::CaptureAround;
using testing::DemoImage;
using testing::EncodeJpeg;
using testing::EncodePng;
using ::testing::HasSubstr;

// The faces in the demo photos, counted and labelled by eye: photo, approximate centre of
// the face in the 1920-px photo, who it is. Sample 1's nurse (right) and sample 3's middle
// woman look like the same person and share a label. Faces the HOG frontal detector cannot
// see (turned away or looking down: two in sample 2, one in sample 4) are not listed.
struct LabelledFace {
  int photo;
  int cx, cy;
  const char* person;
};
constexpr LabelledFace kFaces[] = {
    {1, 484, 484, "s1-clown"},   {1, 1559, 341, "nurse"},      {1, 938, 580, "s1-middle"},
    {2, 1538, 304, "s2-right"},  {3, 675, 484, "s3-curly"},    {3, 1607, 460, "s3-dark"},
    {3, 1154, 380, "nurse"},     {4, 723, 221, "s4-second"},   {4, 1058, 317, "s4-third"},
    {4, 1319, 284, "s4-blonde"}, {5, 723, 556, "s5-black"},    {5, 484, 1034, "s5-front"},
    {5, 1488, 556, "s5-right"},  {5, 881, 224, "s5-top"},      {5, 1180, 324, "s5-smile"},
    {6, 380, 638, "s6-green"},   {6, 1273, 484, "s6-stripes"}, {6, 747, 484, "s6-red"},
    {6, 1559, 436, "s6-right"},
};
// Frontal faces visible in each photo (index 1..6), by eye.
constexpr int kFrontalFaces[] = {0, 3, 1, 3, 3, 5, 4};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = testing::Models();
    ASSERT_NE(models_, nullptr);
    options_ = testing::TestOptions();
  }

  Pipeline MakePipeline() { return Pipeline(models_, options_); }

  static RunParams AllFaces() {
    RunParams p;
    p.templates_for_all_faces = true;
    p.multiple_faces = MultiFacePolicy::kLargest;
    return p;
  }

  std::shared_ptr<const SharedModels> models_;
  FaceOptions options_;
};

const DetectedFace* FaceNear(const FaceAnalysis& a, int cx, int cy) {
  for (const auto& f : a.faces) {
    const int fx = f.box.left + f.box.width / 2, fy = f.box.top + f.box.height / 2;
    if (std::abs(fx - cx) < f.box.width / 3 && std::abs(fy - cy) < f.box.height / 3) return &f;
  }
  return nullptr;
}

// Full-size analyses of the six photos, shared by the tests below within one process.
const std::vector<FaceAnalysis>& DemoAnalyses(Pipeline& pipeline) {
  static std::vector<FaceAnalysis> all;
  if (all.empty()) {
    RunParams p;
    p.templates_for_all_faces = true;
    p.multiple_faces = MultiFacePolicy::kLargest;
    for (int i = 1; i <= 6; ++i) all.push_back(pipeline.Run(testing::DemoBytes(i), p));
  }
  return all;
}

TEST_F(PipelineTest, FindsTheVisibleFrontalFacesInTheDemoPhotos) {
  Pipeline pipeline = MakePipeline();
  const auto& all = DemoAnalyses(pipeline);
  for (int i = 1; i <= 6; ++i) {
    const FaceAnalysis& a = all[i - 1];
    EXPECT_EQ(static_cast<int>(a.faces.size()), kFrontalFaces[i]) << "sample" << i;
    // Faces of ~200 px: the copy reduced for 160-px faces finds them all.
    EXPECT_TRUE(a.detected_on_reduced_copy) << "sample" << i;
    for (const auto& f : a.faces) {
      EXPECT_TRUE(f.has_template);
      EXPECT_GT(f.quality.interocular_px, 60);
    }
  }
  for (const auto& lf : kFaces) {
    EXPECT_NE(FaceNear(all[lf.photo - 1], lf.cx, lf.cy), nullptr)
        << "sample" << lf.photo << " face at " << lf.cx << "," << lf.cy << " (" << lf.person << ")";
  }
}

TEST_F(PipelineTest, DifferentPeopleAreApartSamePersonIsClose) {
  Pipeline pipeline = MakePipeline();
  const auto& all = DemoAnalyses(pipeline);
  std::vector<std::pair<const LabelledFace*, const DetectedFace*>> faces;
  for (const auto& lf : kFaces) {
    const DetectedFace* f = FaceNear(all[lf.photo - 1], lf.cx, lf.cy);
    ASSERT_NE(f, nullptr) << lf.person;
    faces.emplace_back(&lf, f);
  }
  int pairs = 0, under_06 = 0;
  double min_d = 9, max_d = 0;
  for (size_t i = 0; i < faces.size(); ++i) {
    for (size_t j = i + 1; j < faces.size(); ++j) {
      const double d = L2Distance(faces[i].second->face_template, faces[j].second->face_template);
      const bool same = std::string(faces[i].first->person) == faces[j].first->person;
      if (same) {
        std::printf("same person %s: %.3f\n", faces[i].first->person, d);
        EXPECT_LT(d, 0.5) << faces[i].first->person;
        continue;
      }
      ++pairs;
      min_d = std::min(min_d, d);
      max_d = std::max(max_d, d);
      if (d < 0.6) {
        ++under_06;
        std::printf("different people under 0.6: %s / %s %.3f\n", faces[i].first->person,
                    faces[j].first->person, d);
      }
      // The default operating point (normal, 0.50) tells every pair apart.
      EXPECT_GT(d, OperatingPointFor(SecurityLevel::kNormal).threshold)
          << faces[i].first->person << " / " << faces[j].first->person;
    }
  }
  std::printf("%d different-person pairs: min %.3f max %.3f, %d under 0.6\n", pairs, min_d, max_d,
              under_06);
  RecordProperty("different_pairs", pairs);
  RecordProperty("different_min", std::to_string(min_d));
  RecordProperty("different_max", std::to_string(max_d));
  RecordProperty("different_under_0_6", under_06);
}

TEST_F(PipelineTest, SameFaceUnderSmallChangesStaysClose) {
  Pipeline pipeline = MakePipeline();
  struct Base {
    int photo, cx, cy;
  };
  // Frontal faces that pass the gate, as 640x480 captures centred on them.
  const Base bases[] = {{3, 675, 484}, {3, 1607, 460}, {6, 1273, 484}, {6, 1559, 436}};
  double worst = 0;
  for (const Base& b : bases) {
    const cv::Mat photo = DemoImage(b.photo);
    const cv::Mat capture = CaptureAround(photo, b.cx, b.cy);
    auto embed = [&](const std::string& bytes, const char* what) -> std::optional<FaceTemplate> {
      FaceAnalysis a = pipeline.Run(bytes, AllFaces());
      if (a.faces.empty() || !a.faces[0].has_template) {
        ADD_FAILURE() << "sample" << b.photo << " " << what << ": " << ReasonName(a.verdict) << " "
                      << a.message;
        return std::nullopt;
      }
      return a.faces[0].face_template;
    };
    auto base = embed(EncodePng(capture), "original");
    ASSERT_TRUE(base.has_value());

    std::vector<std::pair<std::string, std::string>> variants;
    variants.emplace_back("jpeg q60", EncodeJpeg(capture, 60));
    cv::Mat brighter, darker;
    capture.convertTo(brighter, -1, 1.2, 0);
    capture.convertTo(darker, -1, 0.8, 0);
    variants.emplace_back("brightness +20%", EncodePng(brighter));
    variants.emplace_back("brightness -20%", EncodePng(darker));
    for (double angle : {5.0, -5.0}) {
      cv::Mat rotated;
      const cv::Mat rot =
          cv::getRotationMatrix2D(cv::Point2f(capture.cols / 2.0f, capture.rows / 2.0f), angle, 1);
      cv::warpAffine(capture, rotated, rot, capture.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
      variants.emplace_back("rotation " + std::to_string(static_cast<int>(angle)) + " deg",
                            EncodePng(rotated));
    }
    // The capture window moved by 10 % of its size.
    variants.emplace_back("crop shift +10%", EncodePng(CaptureAround(photo, b.cx + 64, b.cy + 48)));
    variants.emplace_back("crop shift -10%", EncodePng(CaptureAround(photo, b.cx - 64, b.cy - 48)));
    for (const auto& [what, bytes] : variants) {
      auto t = embed(bytes, what.c_str());
      if (!t) continue;
      const double d = L2Distance(*base, *t);
      worst = std::max(worst, d);
      EXPECT_LE(d, 0.35) << "sample" << b.photo << " face at " << b.cx << "," << b.cy << ": "
                         << what;
      std::printf("sample%d %s: %.3f\n", b.photo, what.c_str(), d);
    }
  }
  std::printf("largest distance under small changes: %.3f\n", worst);
  RecordProperty("largest_distance_small_changes", std::to_string(worst));
}

TEST_F(PipelineTest, ACaptureWithALargeFaceIsDetectedOnTheReducedCopy) {
  Pipeline pipeline = MakePipeline();
  const cv::Mat capture = CaptureAround(DemoImage(3), 675, 484);
  FaceAnalysis a = pipeline.Run(EncodeJpeg(capture), RunParams{});
  ASSERT_EQ(a.verdict, Reason::kOk) << a.message;
  EXPECT_TRUE(a.detected_on_reduced_copy);
  ASSERT_EQ(a.faces.size(), 1u);
  EXPECT_TRUE(a.faces[0].has_template);
  EXPECT_EQ(a.image_width, 640);
  EXPECT_EQ(a.image_height, 480);
  auto t = a.AcceptedTemplate();
  ASSERT_TRUE(t.ok());

  // The same face found at full size gives (nearly) the same template: only the detector box,
  // hence the landmarks' starting point, differs.
  FaceOptions full = options_;
  full.detect_downscale_min_face_px = 0;
  Pipeline full_pipeline(models_, full);
  FaceAnalysis b = full_pipeline.Run(EncodeJpeg(capture), RunParams{});
  ASSERT_EQ(b.verdict, Reason::kOk);
  EXPECT_FALSE(b.detected_on_reduced_copy);
  EXPECT_LT(L2Distance(*t, b.faces[0].face_template), 0.1);
}

TEST_F(PipelineTest, QualityGateGivesEachReason) {
  Pipeline pipeline = MakePipeline();
  const cv::Mat sample3 = DemoImage(3);
  const cv::Mat capture = CaptureAround(sample3, 675, 484);
  struct Case {
    std::string name;
    std::string bytes;
    Reason expected;
    RunParams params = RunParams{};
  };
  std::vector<Case> cases;

  cases.push_back({"good capture", EncodeJpeg(capture), Reason::kOk});
  cases.push_back({"blank image", EncodeJpeg(cv::Mat(480, 640, CV_8UC3, cv::Scalar(128, 128, 128))),
                   Reason::kNoFace});
  {
    // The face shrunk to ~85 px: still found, but its eyes are ~37 px apart.
    cv::Mat small, canvas(480, 640, CV_8UC3, cv::Scalar(90, 90, 90));
    cv::resize(capture, small, cv::Size(), 0.40, 0.40, cv::INTER_AREA);
    small.copyTo(canvas(cv::Rect(200, 150, small.cols, small.rows)));
    cases.push_back({"tiny face", EncodeJpeg(canvas), Reason::kFaceTooSmall});
  }
  {
    cv::Mat blurred;
    cv::GaussianBlur(capture, blurred, cv::Size(), 4.0);
    cases.push_back({"heavy blur", EncodeJpeg(blurred), Reason::kTooBlurred});
  }
  {
    cv::Mat rotated;
    const cv::Mat rot = cv::getRotationMatrix2D(cv::Point2f(320, 240), 32, 1);
    cv::warpAffine(capture, rotated, rot, capture.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    cases.push_back({"rotated face", EncodeJpeg(rotated), Reason::kPose});
    cv::Mat sideways;
    cv::rotate(capture, sideways, cv::ROTATE_90_CLOCKWISE);
    cases.push_back({"face on its side", EncodeJpeg(sideways), Reason::kNoFace});
  }
  // A head turned far to one side (sample 5, the woman in black on the left).
  cases.push_back(
      {"turned head", EncodeJpeg(CaptureAround(DemoImage(5), 723, 556)), Reason::kPose});
  {
    cv::Mat dark, bright;
    capture.convertTo(dark, -1, 0.25, 0);
    capture.convertTo(bright, -1, 2.2, 40);
    cases.push_back({"too dark", EncodeJpeg(dark), Reason::kTooDark});
    cases.push_back({"overexposed", EncodeJpeg(bright), Reason::kOverexposed});
  }
  cases.push_back({"three faces", EncodeJpeg(sample3), Reason::kMultipleFaces});
  {
    RunParams largest;
    largest.multiple_faces = MultiFacePolicy::kLargest;
    cases.push_back({"three faces, policy largest", EncodeJpeg(sample3), Reason::kOk, largest});
  }
  const std::string jpeg = EncodeJpeg(capture);
  cases.push_back({"truncated JPEG", jpeg.substr(0, jpeg.size() * 2 / 3), Reason::kCorruptImage});
  cases.push_back({"zero bytes", "", Reason::kEmptyImage});
  cases.push_back({"not an image", "hello, world", Reason::kUnsupportedFormat});
  {
    // A PNG header claiming 20000x20000 (see image_decode_test.cc for the full file).
    std::string png = EncodePng(cv::Mat(8, 8, CV_8UC3, cv::Scalar(0, 0, 0)));
    for (int off : {16, 20}) {
      png[off] = 0;
      png[off + 1] = 0;
      png[off + 2] = char(20000 >> 8);
      png[off + 3] = char(20000 & 0xFF);
    }
    cases.push_back({"20000x20000 PNG header", png, Reason::kImageTooLarge});
  }

  for (const Case& c : cases) {
    FaceAnalysis a = pipeline.Run(c.bytes, c.params);
    EXPECT_EQ(a.verdict, c.expected)
        << c.name << ": got " << ReasonName(a.verdict) << " (" << a.message << ")";
    EXPECT_EQ(a.accepted(), c.expected == Reason::kOk) << c.name;
    EXPECT_EQ(a.AcceptedTemplate().ok(), c.expected == Reason::kOk) << c.name;
    if (c.expected != Reason::kOk) {
      EXPECT_FALSE(a.message.empty()) << c.name;
    }
    std::string measured;
    if (!a.faces.empty()) {
      const FaceQuality& q = a.faces[0].quality;
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "score %.2f iod %.1f sharp %.1f yaw %.1f pitch %.1f roll %.1f bright %.0f "
                    "sat %.3f",
                    q.detection_score, q.interocular_px, q.sharpness, q.yaw_deg, q.pitch_deg,
                    q.roll_deg, q.brightness, q.saturated_fraction);
      measured = buf;
    }
    std::printf("%-28s -> %-18s %s | %s\n", c.name.c_str(),
                std::string(ReasonName(a.verdict)).c_str(), a.message.c_str(), measured.c_str());
  }
}

TEST(QualityTest, PoseFromLandmarksOfAFrontalAndATurnedFace) {
  // A frontal face with dlib's mean-face proportions: eyes level, nose tip centred.
  std::vector<dlib::point> pts(68, dlib::point(0, 0));
  for (int i = 0; i < 17; ++i) pts[i] = dlib::point(100 + i * 12, 200 + (i < 8 ? i : 16 - i) * 8);
  for (int i = 36; i <= 41; ++i) pts[i] = dlib::point(150 + (i - 36) * 4, 150);
  for (int i = 42; i <= 47; ++i) pts[i] = dlib::point(230 + (i - 42) * 4, 150);
  // Eye centres at x 160 and 240, y 150; mouth at y 250; nose tip at 0.509 of the way.
  for (int i = 48; i <= 59; ++i) pts[i] = dlib::point(180 + (i - 48) * 4, 250);
  pts[30] = dlib::point(200, 150 + static_cast<long>(0.509 * 100));
  dlib::full_object_detection frontal(dlib::rectangle(90, 90, 310, 310), pts);
  const HeadPose p = EstimateHeadPose(frontal);
  EXPECT_NEAR(p.roll_deg, 0, 0.5);
  EXPECT_NEAR(p.yaw_deg, 0, 2);
  EXPECT_NEAR(p.pitch_deg, 0, 2);
  EXPECT_NEAR(InterocularDistance(frontal), 80, 0.01);

  // Nose tip moved towards the right jaw end: turned to the image's right.
  pts[30] = dlib::point(260, 201);
  dlib::full_object_detection turned(dlib::rectangle(90, 90, 310, 310), pts);
  EXPECT_GT(EstimateHeadPose(turned).yaw_deg, 15);
  // Nose tip low: looking down.
  pts[30] = dlib::point(200, 240);
  dlib::full_object_detection down(dlib::rectangle(90, 90, 310, 310), pts);
  EXPECT_GT(EstimateHeadPose(down).pitch_deg, 15);
}

TEST(QualityTest, JudgeReportsTheFirstFailedCheckWithItsValue) {
  QualityOptions o;
  FaceQuality q;
  q.interocular_px = 80;
  q.sharpness = 100;
  q.brightness = 120;
  std::string msg;
  EXPECT_EQ(JudgeFace(q, o, &msg), Reason::kOk);
  q.sharpness = 12.5;
  EXPECT_EQ(JudgeFace(q, o, &msg), Reason::kTooBlurred);
  EXPECT_EQ(msg, "sharpness 12.5 < 25 (variance of the Laplacian)");
  q.yaw_deg = -45;
  EXPECT_EQ(JudgeFace(q, o, &msg), Reason::kPose);
  EXPECT_THAT(msg, HasSubstr("yaw -45.0"));
  q.interocular_px = 20;
  EXPECT_EQ(JudgeFace(q, o, &msg), Reason::kFaceTooSmall);
  EXPECT_EQ(msg, "inter-ocular distance 20.0 px < 40 px");
}

}  // namespace
}  // namespace facegate::face
