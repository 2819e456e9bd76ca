// facegate-photoset: writes a bulk-import test set made from the demo photos (see
// photo_set.h) and prints what it holds, for bench/import and for trying `facegatectl import`.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "photoset/photo_set.h"

namespace {

const char kHelp[] =
    "Usage: facegate-photoset --models DIR --out DIR [--photos N] [--per-row K] [--seed S]\n"
    "                         [--workers N]\n"
    "\n"
    "Writes OUT/import.csv and OUT/photos/: 640x480 one-face photos of the people in\n"
    "DIR/demo/sample*.jpg (each checked with the face engine), K per row, one row per person\n"
    "importable and the others duplicates of it, plus deliberately bad rows. Prints a JSON\n"
    "summary on stdout: rows, identities, good_photos, the expected rejections, and the face\n"
    "engine's own rate on these photos (engine_photos_per_second, the import's ceiling).\n"
    "\n"
    "  --photos N   good photos at least (default 500)\n"
    "  --per-row K  photos per row (default 2)\n"
    "  --seed S     random seed (default 1): the same seed writes the same set\n"
    "  --workers N  face engine threads (default 2)\n"
    "Exit status: 0 written, 1 failure, 2 usage error.\n";

}  // namespace

int main(int argc, char** argv) {
  facegate::photoset::PhotoSetOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "facegate-photoset: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--models") {
      o.models_dir = value();
    } else if (a == "--out") {
      o.out_dir = value();
    } else if (a == "--photos") {
      o.target_photos = std::atoi(value());
    } else if (a == "--per-row") {
      o.photos_per_row = std::atoi(value());
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned>(std::strtoul(value(), nullptr, 10));
    } else if (a == "--workers") {
      o.workers = std::atoi(value());
    } else {
      std::fprintf(stderr, "facegate-photoset: unknown argument '%s'\n\n%s", a.c_str(), kHelp);
      return 2;
    }
  }
  if (o.models_dir.empty() || o.out_dir.empty() || o.target_photos < 1 || o.photos_per_row < 1 ||
      o.workers < 1) {
    std::fprintf(stderr, "facegate-photoset: --models and --out are required\n\n%s", kHelp);
    return 2;
  }
  // Stdout carries the JSON summary only; the libraries' log lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("photoset"));
  spdlog::set_level(spdlog::level::warn);
  auto set = facegate::photoset::MakePhotoSet(o);
  if (!set.ok()) {
    std::fprintf(stderr, "facegate-photoset: %s\n", set.status().ToString().c_str());
    return 1;
  }
  nlohmann::json rejections = nlohmann::json::array();
  for (const auto& r : set->rejections) {
    rejections.push_back({{"line", r.line}, {"external_id", r.external_id}, {"reason", r.reason}});
  }
  nlohmann::json out = {{"csv", set->csv.string()},
                        {"rows", set->rows},
                        {"identities", set->identities},
                        {"photos_per_row", set->photos_per_row},
                        {"good_photos", set->good_photos},
                        {"rejections", rejections},
                        {"engine_photos_per_second", set->engine_photos_per_second}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
