// PhotoSet: a bulk-import test set made from the demo photos (models/demo/sample1..6.jpg):
// 640x480 one-face photos of the real people in them (crops with small shifts, scales,
// rotations, flips, light changes and JPEG qualities), a CSV for `facegatectl import`, and
// deliberately bad rows, with the outcome each row must have.
//
// Every face of the demo photos that passes the quality gate is embedded; faces closer than
// the same-person threshold are one identity. Each generated photo is checked with the face
// engine before it is used: accepted, one face, within 0.42 of its identity and far (>= 0.60)
// from every other identity, so that the expected outcomes hold for the daemon too. Every row
// of an identity holds the same number of photos; one row per identity is imported, all the
// others are duplicates of it (which one wins depends on the order batches are written, so
// the outcome is stated per identity, not per row). Deterministic for a seed.
// Thread-safety: a function; it runs the face engine on its own threads.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::photoset {

struct PhotoSetOptions {
  std::filesystem::path models_dir;  // models/ (with demo/)
  std::filesystem::path out_dir;     // photos/ and import.csv go here
  int target_photos = 500;           // good photos at least (bad files come on top)
  int photos_per_row = 2;
  unsigned seed = 1;
  int workers = 2;
};

// A row whose outcome is fixed whatever the order: a bad file or a bad line.
struct ExpectedRejection {
  int line = 0;  // line number in import.csv (the header is line 1)
  std::string external_id;
  std::string reason;  // unreadable_file, unsupported_format, corrupt_image, no_face, ...
};

struct PhotoSet {
  std::filesystem::path csv;
  int rows = 0;         // data rows in the CSV (bad CSV lines included)
  int good_photos = 0;  // photos in identity rows
  int identities = 0;
  int photos_per_row = 0;
  // identity index -> the external ids of its rows (exactly one is imported)
  std::map<int, std::vector<std::string>> rows_of_identity;
  std::vector<ExpectedRejection> rejections;
  double engine_photos_per_second = 0;  // the in-process engine on the checked photos
};

Result<PhotoSet> MakePhotoSet(const PhotoSetOptions& options);

}  // namespace facegate::photoset
