// Photos for black-box tests that run the face engine, made from the demo photos that
// scripts/setup installs under models/demo: 640x480 captures of one labelled face each (as a
// terminal's camera sends them), a frame with nobody, one with two people.
// Thread-safety: DemoPhoto is safe from any thread; the rest are pure functions.
#pragma once

#include <filesystem>
#include <opencv2/core.hpp>
#include <string>

namespace facegate::testing {

// The model files scripts/setup installs into the source tree (models/), with demo photos.
std::filesystem::path ModelsDir();

// sample<i>.jpg decoded (BGR); empty (and a test failure) when it is missing.
const cv::Mat& DemoPhoto(int i);
std::string Jpeg(const cv::Mat& bgr, int quality = 95);

// A face in a demo photo: the photo and the face's centre in it (see tests/face/pipeline_test.cc,
// where these were labelled by eye and checked to be told apart at the default level).
struct DemoFace {
  int photo, cx, cy;
};
// Ada is enrolled from one capture and recognised in another, taken a little off-centre (as
// the next person at the door stands elsewhere) and compressed harder. (Her other photo,
// sample 1, has her head tilted past the pose gate.)
constexpr DemoFace kAdaEnrolled{3, 1154, 380};
constexpr DemoFace kAdaAtTheDoor{3, 1154 - 64, 380 - 48};
constexpr DemoFace kBob{3, 675, 484};
constexpr DemoFace kCarol{6, 1273, 484};
constexpr DemoFace kDave{1, 484, 484};
constexpr DemoFace kStranger{3, 1607, 460};  // never enrolled (until a test does it)

// A 640x480 capture of one face, as a terminal's camera would send it.
cv::Mat CaptureMat(const DemoFace& f);
std::string Capture(const DemoFace& f, int quality = 95);
// A grey frame: nobody in front of the camera.
std::string NoFaceJpeg();
// Two people side by side in one frame.
std::string TwoFacesJpeg();

}  // namespace facegate::testing
