// Helpers shared by the face tests: model paths, demo photos, image encoding, and the models
// loaded once per test process.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <opencv2/core/mat.hpp>
#include <string>

#include "face/pipeline.h"
#include "facegate/face/face_options.h"

namespace facegate::face::testing {

std::filesystem::path ModelsDir();

// Options pointing at the source tree's models/.
FaceOptions TestOptions();

// Loaded once per process (the landmark model takes a second).
std::shared_ptr<const SharedModels> Models();

// models/demo/sample<i>.jpg as bytes, and decoded (BGR).
std::string DemoBytes(int i);
cv::Mat DemoImage(int i);

std::string EncodeJpeg(const cv::Mat& bgr, int quality = 95);
std::string EncodePng(const cv::Mat& bgr);
cv::Mat DecodeBgr(const std::string& bytes);

// A 640x480 window of `photo` centred on (cx, cy), clamped to the photo.
cv::Mat CaptureAround(const cv::Mat& photo, int cx, int cy, int width = 640, int height = 480);

}  // namespace facegate::face::testing
