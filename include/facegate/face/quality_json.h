// The quality gate's measures as JSON, the one form every interface reports them in (the admin
// API's enrollment and import answers, facegatectl face embed, the templates' stored quality).
// Thread-safety: a pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "facegate/face/face_engine.h"

namespace facegate::face {

// {"detection_score", "interocular_px", "sharpness", "yaw_deg", "pitch_deg", "roll_deg",
//  "brightness", "brightness_p5", "brightness_p95", "saturated_fraction"}
nlohmann::json QualityJson(const FaceQuality& quality);

}  // namespace facegate::face
