// FaceDetector: dlib's HOG frontal face detector on a grey image, optionally first on a
// reduced copy.
//
// HOG finds faces down to about 80 px (its window); a copy reduced by s finds faces of
// 80/s px and up, for a fraction of the cost (s^2). When faces are expected large (a terminal
// capture), detect on the reduced copy and fall back to full size only when it finds nothing.
// Thread-safety: not thread-safe (dlib's scanner keeps buffers); one per worker.
#pragma once

#include <dlib/geometry/rectangle.h>

#include <memory>
#include <opencv2/core/mat.hpp>
#include <vector>

namespace facegate::face {

struct Detection {
  dlib::rectangle rect;  // full-size image coordinates
  double score = 0;
};

class FaceDetector {
 public:
  FaceDetector();  // dlib's built-in frontal model
  ~FaceDetector();
  FaceDetector(const FaceDetector& other);
  FaceDetector& operator=(const FaceDetector&) = delete;

  // Faces in `gray` (CV_8UC1) with a score >= `min_score`, largest first. When
  // `reduce_for_face_px` > 80, a copy reduced by 80 / reduce_for_face_px is searched first and
  // `*reduced` tells whether its result was used.
  std::vector<Detection> Detect(const cv::Mat& gray, int reduce_for_face_px, double min_score,
                                bool* reduced);

  // One pass at the image's own size.
  std::vector<Detection> DetectFullSize(const cv::Mat& gray, double min_score);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facegate::face
