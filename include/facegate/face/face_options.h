// FaceOptions: the "face" section of the configuration file (docs/face.md lists every key).
//
// Thread-safety: a plain value; ParseFaceOptions from one thread while loading.
#pragma once

#include <cstdint>
#include <filesystem>

#include "facegate/core/config.h"
#include "facegate/face/matching.h"

namespace facegate::face {

// What to do with a capture that shows more than one face.
enum class MultiFacePolicy {
  kReject,   // refuse it (multiple_faces): the safe choice at a door
  kLargest,  // judge the largest face and ignore the others
};

// The quality gate: each check has its own reason and the measured value is always reported.
struct QualityOptions {
  MultiFacePolicy multiple_faces = MultiFacePolicy::kReject;
  // Distance between the eye centres in the input image, px. ISO/IEC 19794-5 asks 60 for
  // enrolment photos; 40 keeps a 640x480 terminal usable at arm's length.
  double min_interocular_px = 40;
  // Variance of the Laplacian of the 150x150 grey chip. Faces in the demo photos measure 34
  // (visibly soft) to 540; a 640x480 capture blurred by a Gaussian of sigma 4 measures 7.
  double min_sharpness = 25;
  // Head pose estimated from the landmarks, degrees away from frontal.
  double max_yaw_deg = 30;
  double max_pitch_deg = 25;
  double max_roll_deg = 25;
  // Mean luma (0..255) of the face area of the chip.
  double min_brightness = 40;
  double max_brightness = 215;
  // Fraction of the face area at 250 or more: blown-out skin carries no identity.
  double max_saturated_fraction = 0.25;
};

struct MatchingOptions {
  SecurityLevel security_level = SecurityLevel::kNormal;
  // 1:N margin: the best person must beat the runner-up by this distance, else "ambiguous".
  double margin = 0.04;
  // Warn when the chance that a stranger matches someone in the gallery exceeds this.
  double max_stranger_probability = 0.05;
};

struct FaceOptions {
  // The daemon loads the engine and serves captures. Off only where no face work is wanted
  // (tests of other subsystems): captures are then answered 503.
  bool enabled = true;
  // Where the model files are; the two paths below default to their usual names in it.
  std::filesystem::path models_dir = "/usr/share/facegate/models";
  std::filesystem::path recognition_manifest;  // tfjs manifest (its .bin beside it)
  std::filesystem::path landmarks_model;       // dlib's 68-point shape predictor
  int workers = 2;                             // threads, each with its own network and detector
  int queue_size = 64;                         // jobs waiting for a worker, all priorities together
  int queue_timeout_ms = 1500;  // a job not started this long after submission is refused
  int64_t max_image_bytes = 16 << 20;
  int64_t max_image_pixels = 40'000'000;
  int max_image_side = 16384;
  // Detect first on a copy reduced so that faces of this size (box side, px) are still
  // found, and on the full image only when that finds nothing. 0: always full size.
  int detect_downscale_min_face_px = 160;
  // Minimum HOG detector score (dlib's own cut-off is 0). On the demo photos faces score
  // 0.48 to 2.9 and the one false detection (a round badge) 0.03.
  double min_detection_score = 0.25;
  QualityOptions quality;
  MatchingOptions matching;

  std::filesystem::path RecognitionManifestPath() const;
  std::filesystem::path LandmarksModelPath() const;
};

// Reads the "face" section; problems are recorded in the section's ConfigErrors.
void ParseFaceOptions(ConfigSection& section, FaceOptions* options);

}  // namespace facegate::face
