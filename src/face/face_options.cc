#include "facegate/face/face_options.h"

namespace facegate::face {

std::filesystem::path FaceOptions::RecognitionManifestPath() const {
  return recognition_manifest.empty() ? models_dir / "face_recognition_model-weights_manifest.json"
                                      : recognition_manifest;
}

std::filesystem::path FaceOptions::LandmarksModelPath() const {
  return landmarks_model.empty() ? models_dir / "shape_predictor_68_face_landmarks.dat"
                                 : landmarks_model;
}

namespace {

void ParseQualityOptions(ConfigSection& s, QualityOptions* o) {
  std::string policy = o->multiple_faces == MultiFacePolicy::kReject ? "reject" : "largest";
  s.GetEnum("multiple_faces", &policy, {"reject", "largest"});
  o->multiple_faces = policy == "largest" ? MultiFacePolicy::kLargest : MultiFacePolicy::kReject;
  s.Get("min_interocular_px", &o->min_interocular_px, 0, 10000);
  s.Get("min_sharpness", &o->min_sharpness, 0, 1e6);
  s.Get("max_yaw_deg", &o->max_yaw_deg, 0, 90);
  s.Get("max_pitch_deg", &o->max_pitch_deg, 0, 90);
  s.Get("max_roll_deg", &o->max_roll_deg, 0, 180);
  s.Get("min_brightness", &o->min_brightness, 0, 255);
  s.Get("max_brightness", &o->max_brightness, 0, 255);
  s.Get("max_saturated_fraction", &o->max_saturated_fraction, 0, 1);
  if (o->min_brightness >= o->max_brightness) {
    s.Error("min_brightness", "must be less than max_brightness");
  }
}

void ParseMatchingOptions(ConfigSection& s, MatchingOptions* o) {
  std::string level(SecurityLevelName(o->security_level));
  s.GetEnum("security_level", &level, {"normal", "high", "highest"});
  if (auto parsed = ParseSecurityLevel(level)) o->security_level = *parsed;
  s.Get("margin", &o->margin, 0, 1);
  s.Get("max_stranger_probability", &o->max_stranger_probability, 0, 1);
}

}  // namespace

void ParseFaceOptions(ConfigSection& s, FaceOptions* o) {
  s.Get("enabled", &o->enabled);
  s.GetPath("models_dir", &o->models_dir);
  s.GetPath("recognition_manifest", &o->recognition_manifest);
  s.GetPath("landmarks_model", &o->landmarks_model);
  if (o->models_dir.empty() && (o->recognition_manifest.empty() || o->landmarks_model.empty())) {
    s.Error("models_dir", "must be set unless both model paths are");
  }
  s.Get("workers", &o->workers, 1, 256);
  s.Get("queue_size", &o->queue_size, 1, 100000);
  s.Get("queue_timeout_ms", &o->queue_timeout_ms, 1, 600000);
  s.Get("max_image_bytes", &o->max_image_bytes, 1024, int64_t{1} << 30);
  s.Get("max_image_pixels", &o->max_image_pixels, 6400, int64_t{1} << 30);
  s.Get("max_image_side", &o->max_image_side, 80, 65535);
  s.Get("detect_downscale_min_face_px", &o->detect_downscale_min_face_px, 0, 10000);
  if (o->detect_downscale_min_face_px != 0 && o->detect_downscale_min_face_px <= 80) {
    s.Error("detect_downscale_min_face_px",
            "must be 0 (off) or above 80 (the detector's smallest face)");
  }
  s.Get("min_detection_score", &o->min_detection_score, -10, 10);
  {
    auto q = s.Child("quality");
    ParseQualityOptions(q, &o->quality);
  }
  {
    auto m = s.Child("matching");
    ParseMatchingOptions(m, &o->matching);
  }
}

}  // namespace facegate::face
