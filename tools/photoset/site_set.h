// SiteSet: an end-to-end test site made from the demo photos (bench/e2e, docs/devsim.md).
//
// The real people of the demo photos are split three ways: enrolled with the right for the
// site's door, enrolled without it (their right is for another door), and strangers held out
// of the enrollment. Each enrolled person gets one 640x480 enrollment photo (one rendering);
// the captures are other renderings (other crop, scale, turn, light and JPEG quality 50-90) in
// a configurable mix, each checked with the face engine: exactly one accepted face, within
// 0.42 of its own enrollment and at least 0.60 from every other enrolled template (a stranger:
// from all of them), so the decision it must get is certain. Written out:
//   enroll.csv + enroll/   for `facegatectl import` (external ids P00, P01, ...)
//   space.json             for `facegate-ship-sim --data`: the people, doors D1 (the site's
//                          door) and D2, rights per group above; filler people are added to
//                          the simulator at run time (POST /_sim/users/generate)
//   captures.json + captures/  for `facegate-devsim --captures` at door D1
// Deterministic for a seed.
// Thread-safety: a function; it runs the face engine on its own threads.
#pragma once

#include <filesystem>
#include <string>

#include "facegate/core/status.h"

namespace facegate::photoset {

struct SiteSetOptions {
  std::filesystem::path models_dir;  // models/ (with demo/)
  std::filesystem::path out_dir;
  int captures = 300;          // capture files written
  int strangers = 0;           // people held out; 0: a quarter of them (at least 2)
  int without_right = 0;       // enrolled people without the right; 0: a quarter (at least 2)
  int mix_with_right = 70;     // percent of the captures: enrolled people with the right,
  int mix_without_right = 15;  // enrolled people without it,
  int mix_strangers = 15;      // strangers (the three are normalised to their sum)
  unsigned seed = 1;
  int workers = 2;
};

struct SiteSet {
  int identities = 0;  // distinct people in the demo photos
  int with_right = 0, without_right = 0, strangers = 0;
  int captures_with_right = 0, captures_without_right = 0, captures_strangers = 0;
  double mean_template_norm = 0;  // of the enrollment templates (for filler templates)
  double engine_photos_per_second = 0;
};

Result<SiteSet> MakeSiteSet(const SiteSetOptions& options);

}  // namespace facegate::photoset
