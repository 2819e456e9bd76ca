#include "facegate/face/matching.h"

#include <cmath>
#include <limits>
#include <map>

namespace facegate::face {

float L2Distance(const FaceTemplate& a, const FaceTemplate& b) {
  float sum = 0;
  for (int i = 0; i < kTemplateSize; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return std::sqrt(sum);
}

double SimilarityScore(double distance) {
  if (std::isnan(distance)) return 0;
  return 1.0 / (1.0 + std::exp((distance - 0.6) / 0.068));
}

std::string_view SecurityLevelName(SecurityLevel level) {
  switch (level) {
    case SecurityLevel::kNormal:
      return "normal";
    case SecurityLevel::kHigh:
      return "high";
    case SecurityLevel::kHighest:
      return "highest";
  }
  return "normal";
}

std::optional<SecurityLevel> ParseSecurityLevel(std::string_view name) {
  for (auto l : {SecurityLevel::kNormal, SecurityLevel::kHigh, SecurityLevel::kHighest}) {
    if (SecurityLevelName(l) == name) return l;
  }
  return std::nullopt;
}

OperatingPoint OperatingPointFor(SecurityLevel level) {
  // normal: measured (0.06 % of different-person pairs below 0.5). high and highest: the
  // impostor distribution's tail fitted through the two measured points (1 % below 0.6,
  // 0.06 % below 0.5: a normal with mean 0.855 and sd 0.110), to be confirmed on the
  // acceptance set. See docs/face.md.
  switch (level) {
    case SecurityLevel::kNormal:
      return {0.50, 6e-4};
    case SecurityLevel::kHigh:
      return {0.45, 1.1e-4};
    case SecurityLevel::kHighest:
      return {0.40, 1.7e-5};
  }
  return {0.50, 6e-4};
}

MatchPolicy PolicyFor(SecurityLevel level, double margin) {
  return MatchPolicy{level, OperatingPointFor(level).threshold, margin};
}

bool IsSamePerson(double distance, const MatchPolicy& policy) {
  return distance <= policy.threshold;  // NaN compares false: not the same person
}

std::string_view MatchOutcomeName(MatchOutcome outcome) {
  switch (outcome) {
    case MatchOutcome::kMatch:
      return "match";
    case MatchOutcome::kNoMatch:
      return "no_match";
    case MatchOutcome::kAmbiguous:
      return "ambiguous";
  }
  return "no_match";
}

MatchDecision DecideIdentification(std::span<const Candidate> candidates,
                                   const MatchPolicy& policy) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  MatchDecision d;
  d.distance = kInf;
  d.runner_up_distance = kInf;
  // Best distance per person; a NaN distance never counts.
  std::map<int64_t, double> best;
  for (const auto& c : candidates) {
    if (std::isnan(c.distance)) continue;
    auto [it, inserted] = best.emplace(c.person_id, c.distance);
    if (!inserted && c.distance < it->second) it->second = c.distance;
  }
  for (const auto& [id, dist] : best) {
    if (dist < d.distance) {
      d.runner_up_id = d.person_id;
      d.runner_up_distance = d.distance;
      d.person_id = id;
      d.distance = dist;
    } else if (dist < d.runner_up_distance) {
      d.runner_up_id = id;
      d.runner_up_distance = dist;
    }
  }
  if (d.person_id < 0 && best.empty()) {
    d.outcome = MatchOutcome::kNoMatch;
  } else if (!(d.distance <= policy.threshold)) {
    d.outcome = MatchOutcome::kNoMatch;
  } else if (d.runner_up_distance - d.distance < policy.margin) {
    d.outcome = MatchOutcome::kAmbiguous;
  } else {
    d.outcome = MatchOutcome::kMatch;
  }
  return d;
}

double StrangerFalseMatchProbability(double far, uint64_t gallery_size) {
  if (gallery_size == 0 || far <= 0) return 0;
  if (far >= 1) return 1;
  // 1 - (1 - far)^N without losing precision for tiny far.
  return -std::expm1(static_cast<double>(gallery_size) * std::log1p(-far));
}

StrangerRisk AssessStrangerRisk(SecurityLevel level, uint64_t gallery_size,
                                double max_probability) {
  StrangerRisk r;
  r.far = OperatingPointFor(level).target_far;
  r.probability = StrangerFalseMatchProbability(r.far, gallery_size);
  r.above_bound = r.probability > max_probability;
  return r;
}

}  // namespace facegate::face
