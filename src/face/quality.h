// Quality measures of one face and the gate that judges them.
//
// Pose is estimated from the 68 landmarks alone (no 3-D model): roll from the eye line; yaw
// from where the nose tip sits between the two jaw-line ends (a cylinder head model whose nose
// tip swings on 1.4 times the radius of the jaw-line ends); pitch from where the nose tip sits
// between the eye line and the mouth, against dlib's mean face (0.509). Accurate to a few degrees
// near frontal, which is where the thresholds are; it only has to tell "facing the camera" from
// "not". Thread-safety: free functions.
#pragma once

#include <dlib/image_processing/full_object_detection.h>

#include <opencv2/core/mat.hpp>
#include <string>

#include "facegate/face/face_engine.h"
#include "facegate/face/face_options.h"

namespace facegate::face {

struct HeadPose {
  double yaw_deg = 0, pitch_deg = 0, roll_deg = 0;
};

double InterocularDistance(const dlib::full_object_detection& shape);
HeadPose EstimateHeadPose(const dlib::full_object_detection& shape);

// Variance of the 3x3 Laplacian (CV_64F) of an 8-bit grey image.
double LaplacianVariance(const cv::Mat& gray);

struct LumaStats {
  double mean = 0, p5 = 0, p95 = 0, saturated_fraction = 0;
};
// Over the face area of a 150x150 chip (padding 0.25): the central box from 20 % to 80 %.
LumaStats MeasureChipLuma(const cv::Mat& gray_chip);

// Fills the measured values of `quality` from the landmarks and the grey chip.
void MeasureFace(const dlib::full_object_detection& shape, const cv::Mat& gray_chip,
                 FaceQuality* quality);

// The first check `quality` fails, in the order size, pose, light, blur; kOk if none.
// `message` gets the value and the limit ("sharpness 12.5 < 40").
Reason JudgeFace(const FaceQuality& quality, const QualityOptions& options, std::string* message);

}  // namespace facegate::face
