#include "face/pipeline.h"

#include <dlib/image_transforms/interpolation.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/serialize.h>

#include <chrono>
#include <opencv2/imgproc.hpp>
#include <system_error>

#include "face/quality.h"

namespace facegate::face {
namespace {

using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

Box ToBox(const dlib::rectangle& r) {
  return Box{static_cast<int>(r.left()), static_cast<int>(r.top()), static_cast<int>(r.width()),
             static_cast<int>(r.height())};
}

}  // namespace

Result<std::shared_ptr<const SharedModels>> LoadSharedModels(const FaceOptions& options) {
  auto models = std::make_shared<SharedModels>();
  models->recognition_manifest = options.RecognitionManifestPath();
  models->landmarks_model = options.LandmarksModelPath();
  auto net = FaceNet::Load(models->recognition_manifest);
  if (!net.ok()) return net.status();
  models->net = std::move(net).value();

  const std::filesystem::path& sp = models->landmarks_model;
  std::error_code ec;
  if (!std::filesystem::exists(sp, ec)) {
    return Status::NotFound(sp.string() + ": model file not found");
  }
  try {
    dlib::deserialize(sp.string()) >> models->landmarks;
  } catch (const std::exception& e) {
    return Status::Corruption(sp.string() + ": not a dlib shape predictor: " + e.what());
  }
  if (models->landmarks.num_parts() != 68) {
    return Status::InvalidArgument(sp.string() + ": a 68-point shape predictor is needed, it has " +
                                   std::to_string(models->landmarks.num_parts()) + " points");
  }
  return std::shared_ptr<const SharedModels>(std::move(models));
}

Pipeline::Pipeline(std::shared_ptr<const SharedModels> models, const FaceOptions& options)
    : models_(std::move(models)), options_(options), net_(models_->net->Clone()) {
  limits_.max_bytes = static_cast<size_t>(options.max_image_bytes);
  limits_.max_pixels = options.max_image_pixels;
  limits_.max_side = options.max_image_side;
}

cv::Mat Pipeline::ToGray(const cv::Mat& bgr) {
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  return gray;
}

cv::Mat Pipeline::ChipToGray(const Chip& chip) {
  cv::Mat gray(static_cast<int>(chip.nr()), static_cast<int>(chip.nc()), CV_8UC1);
  for (long y = 0; y < chip.nr(); ++y) {
    auto* row = gray.ptr<uint8_t>(static_cast<int>(y));
    for (long x = 0; x < chip.nc(); ++x) {
      const dlib::rgb_pixel& p = chip(y, x);
      // ITU-R BT.601 luma, as cv::cvtColor computes it.
      row[x] = static_cast<uint8_t>((p.red * 4899 + p.green * 9617 + p.blue * 1868 + 8192) >> 14);
    }
  }
  return gray;
}

DecodedImage Pipeline::Decode(std::string_view image) const { return DecodeImage(image, limits_); }

std::vector<Detection> Pipeline::Detect(const cv::Mat& gray, bool* reduced) {
  return detector_.Detect(gray, options_.detect_downscale_min_face_px, options_.min_detection_score,
                          reduced);
}

dlib::full_object_detection Pipeline::Landmarks(const cv::Mat& gray,
                                                const dlib::rectangle& box) const {
  return models_->landmarks(dlib::cv_image<unsigned char>(gray), box);
}

Chip Pipeline::ExtractChip(const cv::Mat& bgr, const dlib::full_object_detection& shape) const {
  Chip chip;
  dlib::extract_image_chip(dlib::cv_image<dlib::bgr_pixel>(bgr),
                           dlib::get_face_chip_details(shape, kChipSize, 0.25), chip);
  return chip;
}

Result<FaceTemplate> Pipeline::Embed(const Chip& chip) { return net_->Embed(chip); }

FaceAnalysis Pipeline::Run(std::string_view image, const RunParams& params) {
  try {
    return RunStages(image, params);
  } catch (const std::exception& e) {
    // dlib and OpenCV report misuse by throwing; an image must never take the worker down.
    FaceAnalysis a;
    a.verdict = Reason::kCorruptImage;
    a.message = std::string("cannot process the image: ") + e.what();
    return a;
  }
}

FaceAnalysis Pipeline::RunStages(std::string_view image, const RunParams& params) {
  FaceAnalysis a;
  const auto start = SteadyClock::now();
  auto t = start;

  DecodedImage decoded = Decode(image);
  a.timings.decode_ms = MsSince(t);
  if (decoded.reason != Reason::kOk) {
    a.verdict = decoded.reason;
    a.message = decoded.message;
    a.timings.total_ms = MsSince(start);
    return a;
  }
  const cv::Mat& bgr = decoded.bgr;
  a.image_width = bgr.cols;
  a.image_height = bgr.rows;

  t = SteadyClock::now();
  const cv::Mat gray = ToGray(bgr);
  std::vector<Detection> found = Detect(gray, &a.detected_on_reduced_copy);
  a.timings.detect_ms = MsSince(t);

  std::vector<Chip> chips;
  for (const Detection& det : found) {
    DetectedFace face;
    face.box = ToBox(det.rect);
    face.quality.detection_score = det.score;

    t = SteadyClock::now();
    const dlib::full_object_detection shape = Landmarks(gray, det.rect);
    for (unsigned long i = 0; i < shape.num_parts() && i < face.landmarks.size(); ++i) {
      face.landmarks[i] =
          Point{static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y())};
    }
    a.timings.landmarks_ms += MsSince(t);

    t = SteadyClock::now();
    chips.push_back(ExtractChip(bgr, shape));
    a.timings.chip_ms += MsSince(t);

    t = SteadyClock::now();
    MeasureFace(shape, ChipToGray(chips.back()), &face.quality);
    face.reason = JudgeFace(face.quality, options_.quality, &face.message);
    a.timings.quality_ms += MsSince(t);
    a.faces.push_back(std::move(face));
  }

  // The verdict is about the largest face.
  if (a.faces.empty()) {
    a.verdict = Reason::kNoFace;
    a.message = "no face found";
  } else {
    a.selected = 0;
    if (a.faces.size() > 1 && params.multiple_faces == MultiFacePolicy::kReject) {
      a.verdict = Reason::kMultipleFaces;
      a.message = std::to_string(a.faces.size()) + " faces found (policy: reject)";
    } else {
      a.verdict = a.faces[0].reason;
      a.message = a.faces[0].message;
    }
  }

  for (size_t i = 0; i < a.faces.size(); ++i) {
    const bool wanted = params.templates_for_all_faces ||
                        (static_cast<int>(i) == a.selected && a.verdict == Reason::kOk);
    if (!wanted) continue;
    t = SteadyClock::now();
    auto templ = Embed(chips[i]);
    a.timings.embed_ms += MsSince(t);
    if (!templ.ok()) {
      a.faces[i].message = templ.status().message();
      if (static_cast<int>(i) == a.selected && a.verdict == Reason::kOk) {
        a.verdict = Reason::kCorruptImage;
        a.message = templ.status().message();
      }
      continue;
    }
    a.faces[i].face_template = *templ;
    a.faces[i].has_template = true;
  }
  a.timings.total_ms = MsSince(start);
  return a;
}

}  // namespace facegate::face
