#include "face/quality.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

namespace facegate::face {
namespace {

constexpr double kRadToDeg = 180.0 / 3.14159265358979323846;
// Nose tip between eye line (0) and mouth centre (1) on dlib's mean face
// (interpolation.h's mean_face_shape: eyes 0.212, nose tip 0.516, outer lip 0.808).
constexpr double kMeanNoseRatio = 0.509;
// Nose-tip depth in front of the eye-mouth plane, relative to the eye-mouth distance.
constexpr double kNoseDepthRatio = 0.45;
// Nose tip's distance from the head's vertical axis, relative to the half-width of the head
// at the jaw-line ends (about 10.5 cm against 7.5 cm).
constexpr double kNoseYawRadius = 1.4;

dlib::dpoint Mean(const dlib::full_object_detection& s, unsigned long first, unsigned long last) {
  dlib::dpoint sum(0, 0);
  for (unsigned long i = first; i <= last; ++i) sum += s.part(i);
  return sum / static_cast<double>(last - first + 1);
}

std::string Format(const char* fmt, double a, double b) {
  char buf[128];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

}  // namespace

double InterocularDistance(const dlib::full_object_detection& shape) {
  return dlib::length(Mean(shape, 42, 47) - Mean(shape, 36, 41));
}

HeadPose EstimateHeadPose(const dlib::full_object_detection& shape) {
  HeadPose pose;
  // 36..41 is the eye on the image's left (the subject's right), 42..47 the other.
  const dlib::dpoint left_eye = Mean(shape, 36, 41), right_eye = Mean(shape, 42, 47);
  const dlib::dpoint eye_vec = right_eye - left_eye;
  const double roll = std::atan2(eye_vec.y(), eye_vec.x());
  pose.roll_deg = roll * kRadToDeg;
  // Undo the roll around the eye midpoint so that the other two angles are measured upright.
  const dlib::dpoint origin = (left_eye + right_eye) / 2;
  const double c = std::cos(-roll), s = std::sin(-roll);
  auto upright = [&](dlib::dpoint p) {
    p -= origin;
    return dlib::dpoint(c * p.x() - s * p.y(), s * p.x() + c * p.y());
  };
  const dlib::dpoint nose = upright(shape.part(30));
  const dlib::dpoint jaw_left = upright(shape.part(0)), jaw_right = upright(shape.part(16));
  const dlib::dpoint mouth = upright(Mean(shape, 48, 59));
  const double to_left = nose.x() - jaw_left.x(), to_right = jaw_right.x() - nose.x();
  if (to_left + to_right > 1e-6) {
    // The jaw-line ends stay on the silhouette while the nose tip swings on a larger radius:
    // (to_left - to_right) / (to_left + to_right) = kNoseYawRadius * sin(yaw).
    const double r =
        std::clamp((to_left - to_right) / (to_left + to_right) / kNoseYawRadius, -1.0, 1.0);
    pose.yaw_deg = std::asin(r) * kRadToDeg;
  }
  if (mouth.y() > 1e-6) {
    const double ratio = nose.y() / mouth.y();  // eye line is y = 0 after centring
    const double q = std::clamp((ratio - kMeanNoseRatio) / kNoseDepthRatio, -1.0, 1.0);
    pose.pitch_deg = std::asin(q) * kRadToDeg;
  }
  return pose;
}

double LaplacianVariance(const cv::Mat& gray) {
  cv::Mat lap;
  cv::Laplacian(gray, lap, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  return stddev[0] * stddev[0];
}

LumaStats MeasureChipLuma(const cv::Mat& gray_chip) {
  LumaStats st;
  const int x0 = gray_chip.cols / 5, y0 = gray_chip.rows / 5;
  const cv::Mat face =
      gray_chip(cv::Rect(x0, y0, gray_chip.cols - 2 * x0, gray_chip.rows - 2 * y0));
  int hist[256] = {};
  double sum = 0;
  for (int y = 0; y < face.rows; ++y) {
    const uint8_t* row = face.ptr<uint8_t>(y);
    for (int x = 0; x < face.cols; ++x) {
      ++hist[row[x]];
      sum += row[x];
    }
  }
  const double n = static_cast<double>(face.total());
  if (n == 0) return st;
  st.mean = sum / n;
  auto percentile = [&](double p) {
    const double target = p * n;
    double acc = 0;
    for (int v = 0; v < 256; ++v) {
      acc += hist[v];
      if (acc >= target) return static_cast<double>(v);
    }
    return 255.0;
  };
  st.p5 = percentile(0.05);
  st.p95 = percentile(0.95);
  int saturated = 0;
  for (int v = 250; v < 256; ++v) saturated += hist[v];
  st.saturated_fraction = saturated / n;
  return st;
}

void MeasureFace(const dlib::full_object_detection& shape, const cv::Mat& gray_chip,
                 FaceQuality* q) {
  q->interocular_px = InterocularDistance(shape);
  const HeadPose pose = EstimateHeadPose(shape);
  q->yaw_deg = pose.yaw_deg;
  q->pitch_deg = pose.pitch_deg;
  q->roll_deg = pose.roll_deg;
  q->sharpness = LaplacianVariance(gray_chip);
  const LumaStats luma = MeasureChipLuma(gray_chip);
  q->brightness = luma.mean;
  q->brightness_p5 = luma.p5;
  q->brightness_p95 = luma.p95;
  q->saturated_fraction = luma.saturated_fraction;
}

Reason JudgeFace(const FaceQuality& q, const QualityOptions& o, std::string* message) {
  if (q.interocular_px < o.min_interocular_px) {
    *message =
        Format("inter-ocular distance %.1f px < %.0f px", q.interocular_px, o.min_interocular_px);
    return Reason::kFaceTooSmall;
  }
  if (std::abs(q.yaw_deg) > o.max_yaw_deg) {
    *message = Format("yaw %.1f deg beyond +-%.0f deg", q.yaw_deg, o.max_yaw_deg);
    return Reason::kPose;
  }
  if (std::abs(q.pitch_deg) > o.max_pitch_deg) {
    *message = Format("pitch %.1f deg beyond +-%.0f deg", q.pitch_deg, o.max_pitch_deg);
    return Reason::kPose;
  }
  if (std::abs(q.roll_deg) > o.max_roll_deg) {
    *message = Format("roll %.1f deg beyond +-%.0f deg", q.roll_deg, o.max_roll_deg);
    return Reason::kPose;
  }
  if (q.brightness < o.min_brightness) {
    *message = Format("face brightness %.1f < %.0f", q.brightness, o.min_brightness);
    return Reason::kTooDark;
  }
  if (q.brightness > o.max_brightness) {
    *message = Format("face brightness %.1f > %.0f", q.brightness, o.max_brightness);
    return Reason::kOverexposed;
  }
  if (q.saturated_fraction > o.max_saturated_fraction) {
    *message = Format("%.2f of the face is saturated (limit %.2f)", q.saturated_fraction,
                      o.max_saturated_fraction);
    return Reason::kOverexposed;
  }
  // Last: bad light lowers the Laplacian's variance too, and is the reason to report then.
  if (q.sharpness < o.min_sharpness) {
    *message =
        Format("sharpness %.1f < %.0f (variance of the Laplacian)", q.sharpness, o.min_sharpness);
    return Reason::kTooBlurred;
  }
  message->clear();
  return Reason::kOk;
}

}  // namespace facegate::face
