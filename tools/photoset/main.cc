// facegate-photoset: writes a bulk-import test set made from the demo photos (see
// photo_set.h) or, with --site, an end-to-end site (site_set.h) for bench/e2e and
// facegate-devsim, and prints what it holds.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "photoset/photo_set.h"
#include "photoset/site_set.h"

namespace {

const char kHelp[] =
    "Usage: facegate-photoset --models DIR --out DIR [--photos N] [--per-row K] [--seed S]\n"
    "                         [--workers N]\n"
    "       facegate-photoset --site --models DIR --out DIR [--captures N] [--strangers N]\n"
    "                         [--without-right N] [--mix W,N,S] [--seed S] [--workers N]\n"
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
    "\n"
    "With --site: an end-to-end test site. The people of the demo photos are split into\n"
    "enrolled with the right for door D1, enrolled without it (a right for D2) and strangers;\n"
    "writes OUT/enroll.csv + OUT/enroll/ (one photo per enrolled person, external ids P00..),\n"
    "OUT/space.json (facegate-ship-sim --data: the people, doors D1 and D2, their rights) and\n"
    "OUT/captures.json + OUT/captures/ (facegate-devsim --captures: other renderings, JPEG\n"
    "quality 50-90, each with the decision it must get at D1, checked with the face engine).\n"
    "\n"
    "  --captures N       capture files (default 300)\n"
    "  --strangers N      people held out (default: a quarter, at least 2)\n"
    "  --without-right N  enrolled people without the right (default: a quarter, at least 2)\n"
    "  --mix W,N,S        captures of people with the right, without it, strangers, as\n"
    "                     proportions (default 70,15,15)\n"
    "Exit status: 0 written, 1 failure, 2 usage error.\n";

}  // namespace

int main(int argc, char** argv) {
  facegate::photoset::PhotoSetOptions o;
  facegate::photoset::SiteSetOptions site;
  bool site_mode = false;
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
    } else if (a == "--site") {
      site_mode = true;
    } else if (a == "--captures") {
      site.captures = std::atoi(value());
    } else if (a == "--strangers") {
      site.strangers = std::atoi(value());
    } else if (a == "--without-right") {
      site.without_right = std::atoi(value());
    } else if (a == "--mix") {
      const char* mix = value();
      if (std::sscanf(mix, "%d,%d,%d", &site.mix_with_right, &site.mix_without_right,
                      &site.mix_strangers) != 3 ||
          site.mix_with_right < 0 || site.mix_without_right < 0 || site.mix_strangers < 0) {
        std::fprintf(stderr, "facegate-photoset: --mix: expected W,N,S (e.g. 70,15,15)\n");
        return 2;
      }
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
  if (site_mode) {
    if (site.captures < 1 || site.strangers < 0 || site.without_right < 0) {
      std::fprintf(stderr, "facegate-photoset: --captures must be positive\n");
      return 2;
    }
    site.models_dir = o.models_dir;
    site.out_dir = o.out_dir;
    site.seed = o.seed;
    site.workers = o.workers;
    auto s = facegate::photoset::MakeSiteSet(site);
    if (!s.ok()) {
      std::fprintf(stderr, "facegate-photoset: %s\n", s.status().ToString().c_str());
      return 1;
    }
    nlohmann::json out = {{"out", o.out_dir.string()},
                          {"identities", s->identities},
                          {"people",
                           {{"with_right", s->with_right},
                            {"without_right", s->without_right},
                            {"strangers", s->strangers}}},
                          {"captures",
                           {{"with_right", s->captures_with_right},
                            {"without_right", s->captures_without_right},
                            {"strangers", s->captures_strangers}}},
                          {"mean_template_norm", s->mean_template_norm},
                          {"engine_photos_per_second", s->engine_photos_per_second}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
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
