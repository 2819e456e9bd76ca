#include "facegate/face/matching.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace facegate::face {
namespace {

TEST(MatchingTest, L2Distance) {
  FaceTemplate a{}, b{};
  EXPECT_EQ(L2Distance(a, b), 0.0f);
  b[0] = 3;
  b[127] = 4;
  EXPECT_FLOAT_EQ(L2Distance(a, b), 5.0f);
  EXPECT_FLOAT_EQ(L2Distance(b, a), 5.0f);
}

TEST(MatchingTest, ScoreIsMonotoneAndReadable) {
  EXPECT_NEAR(SimilarityScore(0.6), 0.5, 1e-9);
  EXPECT_NEAR(SimilarityScore(0.4), 0.95, 0.005);
  EXPECT_NEAR(SimilarityScore(0.5), 0.81, 0.005);
  EXPECT_GT(SimilarityScore(0.0), 0.99);
  EXPECT_LT(SimilarityScore(1.2), 0.01);
  double last = 1.0;
  for (double d = 0; d < 1.5; d += 0.01) {
    const double s = SimilarityScore(d);
    EXPECT_LE(s, last);
    EXPECT_GE(s, 0.0);
    last = s;
  }
  EXPECT_EQ(SimilarityScore(std::nan("")), 0.0);
}

TEST(MatchingTest, SecurityLevels) {
  EXPECT_EQ(OperatingPointFor(SecurityLevel::kNormal).threshold, 0.50);
  EXPECT_EQ(OperatingPointFor(SecurityLevel::kHigh).threshold, 0.45);
  EXPECT_EQ(OperatingPointFor(SecurityLevel::kHighest).threshold, 0.40);
  // Stricter levels aim at lower false-accept rates; none is looser than 0.5.
  EXPECT_GT(OperatingPointFor(SecurityLevel::kNormal).target_far,
            OperatingPointFor(SecurityLevel::kHigh).target_far);
  EXPECT_GT(OperatingPointFor(SecurityLevel::kHigh).target_far,
            OperatingPointFor(SecurityLevel::kHighest).target_far);
  for (auto l : {SecurityLevel::kNormal, SecurityLevel::kHigh, SecurityLevel::kHighest}) {
    EXPECT_LE(OperatingPointFor(l).threshold, 0.5);
    EXPECT_EQ(ParseSecurityLevel(SecurityLevelName(l)), l);
  }
  EXPECT_FALSE(ParseSecurityLevel("paranoid").has_value());

  const MatchPolicy p = PolicyFor(SecurityLevel::kHigh, 0.05);
  EXPECT_EQ(p.threshold, 0.45);
  EXPECT_EQ(p.margin, 0.05);
  EXPECT_TRUE(IsSamePerson(0.45, p));
  EXPECT_FALSE(IsSamePerson(0.4501, p));
  EXPECT_FALSE(IsSamePerson(std::nan(""), p));
}

TEST(MatchingTest, IdentificationOutcomes) {
  const MatchPolicy p = PolicyFor(SecurityLevel::kNormal, 0.04);
  EXPECT_EQ(DecideIdentification({}, p).outcome, MatchOutcome::kNoMatch);

  std::vector<Candidate> one = {{7, 0.30f}};
  MatchDecision d = DecideIdentification(one, p);
  EXPECT_EQ(d.outcome, MatchOutcome::kMatch);
  EXPECT_EQ(d.person_id, 7);
  EXPECT_FLOAT_EQ(d.distance, 0.30f);
  EXPECT_TRUE(std::isinf(d.runner_up_distance));

  // Clear of the runner-up.
  std::vector<Candidate> clear = {{1, 0.55f}, {2, 0.31f}, {3, 0.36f}};
  d = DecideIdentification(clear, p);
  EXPECT_EQ(d.outcome, MatchOutcome::kMatch);
  EXPECT_EQ(d.person_id, 2);
  EXPECT_EQ(d.runner_up_id, 3);

  // Within the margin of another person: ambiguous, even if that person is over threshold.
  std::vector<Candidate> close = {{1, 0.47f}, {2, 0.49f}};
  d = DecideIdentification(close, p);
  EXPECT_EQ(d.outcome, MatchOutcome::kAmbiguous);
  EXPECT_EQ(d.person_id, 1);
  std::vector<Candidate> close_over = {{1, 0.48f}, {2, 0.51f}};
  EXPECT_EQ(DecideIdentification(close_over, p).outcome, MatchOutcome::kAmbiguous);

  // Several templates of the same person do not make them their own runner-up.
  std::vector<Candidate> same = {{5, 0.30f}, {5, 0.31f}, {6, 0.60f}};
  d = DecideIdentification(same, p);
  EXPECT_EQ(d.outcome, MatchOutcome::kMatch);
  EXPECT_EQ(d.runner_up_id, 6);
  EXPECT_FLOAT_EQ(d.runner_up_distance, 0.60f);

  // Nobody within the threshold.
  std::vector<Candidate> far = {{1, 0.51f}, {2, 0.9f}};
  d = DecideIdentification(far, p);
  EXPECT_EQ(d.outcome, MatchOutcome::kNoMatch);
  EXPECT_EQ(d.person_id, 1);

  // NaN distances never count.
  std::vector<Candidate> nan = {{1, std::numeric_limits<float>::quiet_NaN()}, {2, 0.2f}};
  d = DecideIdentification(nan, p);
  EXPECT_EQ(d.outcome, MatchOutcome::kMatch);
  EXPECT_EQ(d.person_id, 2);

  EXPECT_EQ(MatchOutcomeName(MatchOutcome::kAmbiguous), "ambiguous");
}

TEST(MatchingTest, StrangerFalseMatchProbability) {
  EXPECT_EQ(StrangerFalseMatchProbability(6e-4, 0), 0.0);
  EXPECT_NEAR(StrangerFalseMatchProbability(6e-4, 1), 6e-4, 1e-12);
  EXPECT_NEAR(StrangerFalseMatchProbability(6e-4, 1000), 1 - std::pow(1 - 6e-4, 1000), 1e-12);
  EXPECT_NEAR(StrangerFalseMatchProbability(6e-4, 1000), 0.4514, 1e-3);
  EXPECT_NEAR(StrangerFalseMatchProbability(2e-5, 1000), 0.0198, 1e-3);
  // Precise for tiny rates where 1 - far rounds.
  EXPECT_NEAR(StrangerFalseMatchProbability(1e-18, 1000), 1e-15, 1e-20);
  EXPECT_EQ(StrangerFalseMatchProbability(1, 3), 1.0);
  EXPECT_NEAR(StrangerFalseMatchProbability(0.5, 3), 0.875, 1e-12);

  // The default bound (5 %) is crossed at about 86 people on the normal level.
  StrangerRisk r = AssessStrangerRisk(SecurityLevel::kNormal, 85, 0.05);
  EXPECT_EQ(r.far, 6e-4);
  EXPECT_FALSE(r.above_bound);
  r = AssessStrangerRisk(SecurityLevel::kNormal, 100, 0.05);
  EXPECT_NEAR(r.probability, 0.0583, 1e-3);
  EXPECT_TRUE(r.above_bound);
  EXPECT_FALSE(AssessStrangerRisk(SecurityLevel::kHighest, 1000, 0.05).above_bound);
}

}  // namespace
}  // namespace facegate::face
