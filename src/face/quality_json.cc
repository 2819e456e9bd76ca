#include "facegate/face/quality_json.h"

namespace facegate::face {

nlohmann::json QualityJson(const FaceQuality& q) {
  return {{"detection_score", q.detection_score},
          {"interocular_px", q.interocular_px},
          {"sharpness", q.sharpness},
          {"yaw_deg", q.yaw_deg},
          {"pitch_deg", q.pitch_deg},
          {"roll_deg", q.roll_deg},
          {"brightness", q.brightness},
          {"brightness_p5", q.brightness_p5},
          {"brightness_p95", q.brightness_p95},
          {"saturated_fraction", q.saturated_fraction}};
}

}  // namespace facegate::face
