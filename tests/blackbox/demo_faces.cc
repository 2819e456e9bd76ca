#include "blackbox/demo_faces.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "facegate/core/files.h"
#include "testing/temp_dir.h"

namespace facegate::testing {

std::filesystem::path ModelsDir() { return SourceDir() / "models"; }

const cv::Mat& DemoPhoto(int i) {
  static std::mutex mu;
  static std::map<int, cv::Mat> photos;
  std::lock_guard lock(mu);
  cv::Mat& m = photos[i];
  if (m.empty()) {
    auto bytes = ReadFile(ModelsDir() / "demo" / ("sample" + std::to_string(i) + ".jpg"));
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString() << " (run scripts/setup)";
    if (bytes.ok()) {
      m = cv::imdecode(cv::Mat(1, static_cast<int>(bytes->size()), CV_8U, bytes->data()),
                       cv::IMREAD_COLOR);
    }
  }
  return m;
}

std::string Jpeg(const cv::Mat& bgr, int quality) {
  std::vector<uchar> buf;
  cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
  return std::string(buf.begin(), buf.end());
}

cv::Mat CaptureMat(const DemoFace& f) {
  const cv::Mat& photo = DemoPhoto(f.photo);
  if (photo.empty()) return {};
  const int w = 640, h = 480;
  const int x = std::clamp(f.cx - w / 2, 0, photo.cols - w);
  const int y = std::clamp(f.cy - h / 2, 0, photo.rows - h);
  return photo(cv::Rect(x, y, w, h)).clone();
}

std::string Capture(const DemoFace& f, int quality) { return Jpeg(CaptureMat(f), quality); }

std::string NoFaceJpeg() { return Jpeg(cv::Mat(480, 640, CV_8UC3, cv::Scalar(128, 128, 128))); }

std::string TwoFacesJpeg() {
  cv::Mat both;
  cv::hconcat(CaptureMat(kAdaAtTheDoor), CaptureMat(kStranger), both);
  return Jpeg(both);
}

}  // namespace facegate::testing
