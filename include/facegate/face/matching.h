// Matching math for 128-d face templates: distance, a score for people, security levels and
// the decisions built on them (1:1 verification, 1:N identification with a margin rule).
//
// Distances are Euclidean (L2) between templates of dlib's ResNet; smaller is more alike.
// Measured with this model on a labelled public set of 154 photos (kept aside for acceptance):
// same-person distances had median 0.40 and max 0.52; about 1 % of different-person pairs were
// below 0.6 and about 0.06 % below 0.5. A security level is defined by the per-pair false
// accept rate (FAR) it aims at; docs/face.md explains the numbers.
// Thread-safety: pure functions and values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace facegate::face {

inline constexpr int kTemplateSize = 128;
// The embedding model whose templates this build produces and compares. Stored with every
// template: templates of another version are never compared with these (store.h).
inline constexpr std::string_view kModelVersion = "dlib-resnet-v1";
using FaceTemplate = std::array<float, kTemplateSize>;

// Euclidean distance.
float L2Distance(const FaceTemplate& a, const FaceTemplate& b);

// A similarity score in [0, 1] for people to read (1 = identical), a fixed, monotone function
// of the distance: 1 / (1 + exp((d - 0.6) / 0.068)), so 0.40 -> 0.95, 0.45 -> 0.90,
// 0.50 -> 0.81, 0.60 -> 0.50, 0.70 -> 0.19. Decisions use the distance, never the score.
double SimilarityScore(double distance);

enum class SecurityLevel { kNormal, kHigh, kHighest };

std::string_view SecurityLevelName(SecurityLevel level);  // "normal", "high", "highest"
std::optional<SecurityLevel> ParseSecurityLevel(std::string_view name);

// The distance threshold of a level and the per-pair false-accept rate it aims at.
struct OperatingPoint {
  double threshold;   // accept when distance <= threshold
  double target_far;  // per-pair false-accept rate (different people at or below threshold)
};
// normal 0.50 (FAR 6e-4, measured), high 0.45 (1.1e-4), highest 0.40 (1.7e-5); the last two
// from a normal fitted to the measured impostor tail (docs/face.md).
OperatingPoint OperatingPointFor(SecurityLevel level);

// What a decision needs: the threshold of the level in force (per door, if overridden) and
// the 1:N margin.
struct MatchPolicy {
  SecurityLevel level = SecurityLevel::kNormal;
  double threshold = 0.50;
  double margin = 0.04;
};
MatchPolicy PolicyFor(SecurityLevel level, double margin);

// 1:1 (a claimed identity): same person when distance <= threshold.
bool IsSamePerson(double distance, const MatchPolicy& policy);

// One gallery hit: a person and the distance of one of their templates to the probe. A person
// may appear several times (several enrolled templates); their best distance counts.
struct Candidate {
  int64_t person_id;
  float distance;
};

enum class MatchOutcome {
  kMatch,      // best person within the threshold and clear of the runner-up by the margin
  kNoMatch,    // nobody within the threshold
  kAmbiguous,  // best within the threshold, but another person within `margin` of it
};
std::string_view MatchOutcomeName(MatchOutcome outcome);  // "match", "no_match", "ambiguous"

struct MatchDecision {
  MatchOutcome outcome = MatchOutcome::kNoMatch;
  int64_t person_id = -1;  // the best person, if any candidate
  double distance = 0;     // their best distance (infinity when no candidate)
  int64_t runner_up_id = -1;
  double runner_up_distance = 0;  // infinity when there is no second person
};

// 1:N: the best person must be within the threshold and the best *other* person must be at
// least `margin` farther, else kAmbiguous.
MatchDecision DecideIdentification(std::span<const Candidate> candidates,
                                   const MatchPolicy& policy);

// The chance that a stranger (nobody enrolled) matches at least one of `gallery_size` people
// with a per-pair false-accept rate `far`: 1 - (1 - far)^N.
double StrangerFalseMatchProbability(double far, uint64_t gallery_size);

// What the daemon reports for the current gallery: the level's per-pair FAR, the stranger
// false-match probability, and whether it exceeds the configured bound (warn then).
struct StrangerRisk {
  double far = 0;
  double probability = 0;
  bool above_bound = false;
};
StrangerRisk AssessStrangerRisk(SecurityLevel level, uint64_t gallery_size, double max_probability);

}  // namespace facegate::face
