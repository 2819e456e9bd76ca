#include "facegate/face/face_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace facegate::face {
namespace {

using ::testing::HasSubstr;

Status Parse(const std::string& text, FaceOptions* o) {
  nlohmann::json root;
  FACEGATE_RETURN_IF_ERROR(ParseJsonText(text, "/etc/facegate/facegate.json", &root));
  ConfigErrors errors("/etc/facegate/facegate.json");
  {
    ConfigSection top(&root, "", &errors, "/etc/facegate");
    auto s = top.Child("face");
    ParseFaceOptions(s, o);
  }
  return errors.ToStatus();
}

TEST(FaceOptionsTest, DefaultsWhenAbsent) {
  FaceOptions o;
  ASSERT_TRUE(Parse("{}", &o).ok());
  EXPECT_EQ(o.workers, 2);
  EXPECT_EQ(o.quality.multiple_faces, MultiFacePolicy::kReject);
  EXPECT_EQ(o.matching.security_level, SecurityLevel::kNormal);
  EXPECT_EQ(o.RecognitionManifestPath(),
            "/usr/share/facegate/models/face_recognition_model-weights_manifest.json");
  EXPECT_EQ(o.LandmarksModelPath(),
            "/usr/share/facegate/models/shape_predictor_68_face_landmarks.dat");
}

TEST(FaceOptionsTest, ReadsEveryKey) {
  FaceOptions o;
  Status s = Parse(R"({"face": {
    "models_dir": "models", "landmarks_model": "/opt/sp68.dat", "workers": 4, "queue_size": 10,
    "queue_timeout_ms": 900, "max_image_bytes": 2000000, "max_image_pixels": 5000000,
    "max_image_side": 4000, "detect_downscale_min_face_px": 0, "min_detection_score": 0.5,
    "quality": {"multiple_faces": "largest", "min_interocular_px": 50, "min_sharpness": 20,
      "max_yaw_deg": 20, "max_pitch_deg": 15, "max_roll_deg": 10, "min_brightness": 30,
      "max_brightness": 220, "max_saturated_fraction": 0.1},
    "matching": {"security_level": "highest", "margin": 0.06, "max_stranger_probability": 0.01}
  }})",
                   &o);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(o.models_dir, "/etc/facegate/models");
  EXPECT_EQ(o.RecognitionManifestPath(),
            "/etc/facegate/models/face_recognition_model-weights_manifest.json");
  EXPECT_EQ(o.LandmarksModelPath(), "/opt/sp68.dat");
  EXPECT_EQ(o.workers, 4);
  EXPECT_EQ(o.queue_size, 10);
  EXPECT_EQ(o.queue_timeout_ms, 900);
  EXPECT_EQ(o.max_image_bytes, 2000000);
  EXPECT_EQ(o.max_image_pixels, 5000000);
  EXPECT_EQ(o.max_image_side, 4000);
  EXPECT_EQ(o.detect_downscale_min_face_px, 0);
  EXPECT_EQ(o.min_detection_score, 0.5);
  EXPECT_EQ(o.quality.multiple_faces, MultiFacePolicy::kLargest);
  EXPECT_EQ(o.quality.min_interocular_px, 50);
  EXPECT_EQ(o.quality.min_sharpness, 20);
  EXPECT_EQ(o.quality.max_yaw_deg, 20);
  EXPECT_EQ(o.quality.max_pitch_deg, 15);
  EXPECT_EQ(o.quality.max_roll_deg, 10);
  EXPECT_EQ(o.quality.min_brightness, 30);
  EXPECT_EQ(o.quality.max_brightness, 220);
  EXPECT_EQ(o.quality.max_saturated_fraction, 0.1);
  EXPECT_EQ(o.matching.security_level, SecurityLevel::kHighest);
  EXPECT_EQ(o.matching.margin, 0.06);
  EXPECT_EQ(o.matching.max_stranger_probability, 0.01);
}

TEST(FaceOptionsTest, ReportsEveryProblemWithItsKey) {
  FaceOptions o;
  Status s = Parse(R"({"face": {"workers": 0, "wrokers": 2, "detect_downscale_min_face_px": 50,
    "quality": {"multiple_faces": "all", "min_brightness": 200, "max_brightness": 100},
    "matching": {"security_level": "paranoid"}}})",
                   &o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("face.workers"));
  EXPECT_THAT(s.message(), HasSubstr("face.wrokers"));
  EXPECT_THAT(s.message(), HasSubstr("face.detect_downscale_min_face_px"));
  EXPECT_THAT(s.message(), HasSubstr("face.quality.multiple_faces"));
  EXPECT_THAT(s.message(), HasSubstr("face.quality.min_brightness"));
  EXPECT_THAT(s.message(), HasSubstr("face.matching.security_level"));
}

}  // namespace
}  // namespace facegate::face
