#include "face/face_test_util.h"

#include <algorithm>
#include <mutex>
#include <opencv2/imgcodecs.hpp>

#include "facegate/core/files.h"
#include "testing/temp_dir.h"

namespace facegate::face::testing {

std::filesystem::path ModelsDir() { return facegate::testing::SourceDir() / "models"; }

FaceOptions TestOptions() {
  FaceOptions o;
  o.models_dir = ModelsDir();
  return o;
}

std::shared_ptr<const SharedModels> Models() {
  static std::once_flag once;
  static std::shared_ptr<const SharedModels> models;
  std::call_once(once, [] {
    auto loaded = LoadSharedModels(TestOptions());
    if (!loaded.ok()) {
      ADD_FAILURE() << "cannot load the models from " << ModelsDir()
                    << " (run scripts/setup): " << loaded.status().ToString();
      return;
    }
    models = *loaded;
  });
  return models;
}

std::string DemoBytes(int i) {
  auto path = ModelsDir() / "demo" / ("sample" + std::to_string(i) + ".jpg");
  auto data = ReadFile(path);
  EXPECT_TRUE(data.ok()) << data.status().ToString() << " (run scripts/setup)";
  return data.ok() ? *data : std::string();
}

cv::Mat DemoImage(int i) { return DecodeBgr(DemoBytes(i)); }

std::string EncodeJpeg(const cv::Mat& bgr, int quality) {
  std::vector<uchar> buf;
  cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
  return std::string(buf.begin(), buf.end());
}

std::string EncodePng(const cv::Mat& bgr) {
  std::vector<uchar> buf;
  cv::imencode(".png", bgr, buf);
  return std::string(buf.begin(), buf.end());
}

cv::Mat DecodeBgr(const std::string& bytes) {
  if (bytes.empty()) return {};
  return cv::imdecode(
      cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data())),
      cv::IMREAD_COLOR);
}

cv::Mat CaptureAround(const cv::Mat& photo, int cx, int cy, int width, int height) {
  const int x = std::clamp(cx - width / 2, 0, photo.cols - width);
  const int y = std::clamp(cy - height / 2, 0, photo.rows - height);
  return photo(cv::Rect(x, y, width, height)).clone();
}

}  // namespace facegate::face::testing
