#include "face/detector.h"

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace facegate::face {
namespace {

constexpr int kHogWindowPx = 80;

std::vector<Detection> Run(dlib::frontal_face_detector& detector, const cv::Mat& gray, double scale,
                           double min_score) {
  std::vector<dlib::rect_detection> found;
  detector(dlib::cv_image<unsigned char>(gray), found);
  std::vector<Detection> out;
  for (const auto& d : found) {
    if (d.detection_confidence < min_score) continue;
    Detection det;
    det.score = d.detection_confidence;
    const dlib::rectangle& r = d.rect;
    det.rect = scale == 1.0
                   ? r
                   : dlib::rectangle(std::lround(r.left() / scale), std::lround(r.top() / scale),
                                     std::lround((r.right() + 1) / scale) - 1,
                                     std::lround((r.bottom() + 1) / scale) - 1);
    out.push_back(det);
  }
  std::stable_sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) {
    return a.rect.area() > b.rect.area();
  });
  return out;
}

}  // namespace

struct FaceDetector::Impl {
  dlib::frontal_face_detector detector;
};

FaceDetector::FaceDetector() : impl_(std::make_unique<Impl>()) {
  impl_->detector = dlib::get_frontal_face_detector();
}
FaceDetector::~FaceDetector() = default;
FaceDetector::FaceDetector(const FaceDetector& other)
    : impl_(std::make_unique<Impl>(*other.impl_)) {}

std::vector<Detection> FaceDetector::DetectFullSize(const cv::Mat& gray, double min_score) {
  return Run(impl_->detector, gray, 1.0, min_score);
}

std::vector<Detection> FaceDetector::Detect(const cv::Mat& gray, int reduce_for_face_px,
                                            double min_score, bool* reduced) {
  *reduced = false;
  if (reduce_for_face_px > kHogWindowPx) {
    const double scale = static_cast<double>(kHogWindowPx) / reduce_for_face_px;
    const int w = static_cast<int>(std::lround(gray.cols * scale));
    const int h = static_cast<int>(std::lround(gray.rows * scale));
    if (w >= kHogWindowPx && h >= kHogWindowPx) {
      cv::Mat small;
      cv::resize(gray, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
      auto found = Run(impl_->detector, small, static_cast<double>(w) / gray.cols, min_score);
      if (!found.empty()) {
        *reduced = true;
        return found;
      }
    }
  }
  return DetectFullSize(gray, min_score);
}

}  // namespace facegate::face
