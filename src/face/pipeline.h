// Pipeline: one worker's face work, stage by stage (decode, detect, landmarks, chip, quality,
// embed), and the models it uses.
//
// SharedModels holds what is loaded once per process and only read afterwards (the 100 MB
// landmark model) plus the prototypes each worker copies (network, detector).
// Thread-safety: SharedModels is immutable once loaded and safe to share; a Pipeline is not
// thread-safe (one per worker thread).
#pragma once

#include <dlib/image_processing/full_object_detection.h>
#include <dlib/image_processing/shape_predictor.h>

#include <memory>
#include <opencv2/core/mat.hpp>
#include <string_view>
#include <vector>

#include "face/detector.h"
#include "face/face_net.h"
#include "face/image_decode.h"
#include "facegate/face/face_engine.h"
#include "facegate/face/face_options.h"

namespace facegate::face {

struct SharedModels {
  dlib::shape_predictor landmarks;
  std::unique_ptr<FaceNet> net;  // prototype: workers Clone() it
  std::filesystem::path recognition_manifest;
  std::filesystem::path landmarks_model;
};

// Loads both models; errors name the file (and, for the network, the tensor).
Result<std::shared_ptr<const SharedModels>> LoadSharedModels(const FaceOptions& options);

struct RunParams {
  bool templates_for_all_faces = false;
  MultiFacePolicy multiple_faces = MultiFacePolicy::kReject;
};

class Pipeline {
 public:
  Pipeline(std::shared_ptr<const SharedModels> models, const FaceOptions& options);

  // The whole job. Never throws.
  FaceAnalysis Run(std::string_view image, const RunParams& params);

  // The stages, for benchmarks and tests.
  DecodedImage Decode(std::string_view image) const;
  std::vector<Detection> Detect(const cv::Mat& gray, bool* reduced);
  dlib::full_object_detection Landmarks(const cv::Mat& gray, const dlib::rectangle& box) const;
  Chip ExtractChip(const cv::Mat& bgr, const dlib::full_object_detection& shape) const;
  Result<FaceTemplate> Embed(const Chip& chip);

  static cv::Mat ToGray(const cv::Mat& bgr);
  static cv::Mat ChipToGray(const Chip& chip);

 private:
  FaceAnalysis RunStages(std::string_view image, const RunParams& params);

  std::shared_ptr<const SharedModels> models_;
  FaceOptions options_;
  DecodeLimits limits_;
  FaceDetector detector_;
  std::unique_ptr<FaceNet> net_;
};

}  // namespace facegate::face
