// facegate-filler: makes up a gallery's size with filler templates (bench/e2e). The real
// faces available for tests are few, so a site of 1,000 people or 100,000 templates is the
// real people plus templates that no real face matches: random directions scaled to the mean
// norm of the real templates already enrolled. In 128 dimensions two random directions are
// all but orthogonal, so a filler sits about norm x sqrt(2) from every real face, far past the
// match threshold; the tool measures and prints the smallest such distance so a report can
// say so. Writes through the store (encrypted, change-logged) on a running site's database:
// the daemon's gallery picks the templates up from the change log.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/daemon/options.h"
#include "facegate/face/matching.h"
#include "facegate/store/store.h"

namespace {

using namespace facegate;

const char kHelp[] =
    "Usage: facegate-filler --config FILE --prefix P [--templates N] [--norm X] [--batch N]\n"
    "                       [--seed S] [--json] [--progress]\n"
    "\n"
    "Adds filler face templates to the users whose external id starts with P (e.g. users a\n"
    "test Space generated): random unit directions scaled to the mean norm of the real\n"
    "templates of the other users (or --norm), which no real face matches. For load tests\n"
    "and benchmarks only: a filler is not anybody's face.\n"
    "\n"
    "  --config FILE  facegated's configuration (the store it names; the daemon may run)\n"
    "  --prefix P     the users to give templates to (external id prefix; required)\n"
    "  --templates N  templates in all, round robin over those users (default: one each)\n"
    "  --norm X       the templates' norm (default: the real templates' mean)\n"
    "  --batch N      templates per transaction (default 1000)\n"
    "  --seed S       random seed (default 1)\n"
    "  --json         print the summary as JSON\n"
    "  --progress     progress on stderr\n"
    "  -h, --help     this text\n"
    "Exit status: 0 added, 1 failure, 2 usage error.\n";

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "facegate-filler: %s (see --help)\n", why.c_str());
  std::exit(2);
}

[[noreturn]] void Fail(const Status& s) {
  std::fprintf(stderr, "facegate-filler: %s\n", s.ToString().c_str());
  std::exit(1);
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config, prefix;
  long long templates = 0;
  double norm = 0;
  int batch = 1000;
  unsigned seed = 1;
  bool json = false, progress = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--config") {
      config = value();
    } else if (a == "--prefix") {
      prefix = value();
    } else if (a == "--templates") {
      templates = std::atoll(value().c_str());
      if (templates < 1) Usage("--templates: expected a positive count");
    } else if (a == "--norm") {
      norm = std::atof(value().c_str());
      if (!(norm > 0)) Usage("--norm: expected a positive number");
    } else if (a == "--batch") {
      batch = std::atoi(value().c_str());
      if (batch < 1 || batch > 100000) Usage("--batch: expected 1 to 100000");
    } else if (a == "--seed") {
      seed = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
    } else if (a == "--json") {
      json = true;
    } else if (a == "--progress") {
      progress = true;
    } else {
      Usage("unknown argument '" + a + "'");
    }
  }
  if (config.empty() || prefix.empty()) Usage("--config and --prefix are required");
  auto logger = spdlog::stderr_color_mt("facegate-filler");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);

  auto options = daemon::LoadDaemonOptions(config);
  if (!options.ok()) Fail(options.status());
  store::StoreOptions so = options->store;
  so.create_if_missing = false;
  auto opened = store::Store::Open(so, SystemClock::Instance());
  if (!opened.ok()) Fail(opened.status());
  store::Store& db = **opened;

  // The users to fill, and everyone else (whose templates are the real ones).
  std::vector<int64_t> fill_users;
  for (int64_t after = 0;;) {
    auto page = db.ListUsers(after, 1000);
    if (!page.ok()) Fail(page.status());
    if (page->empty()) break;
    for (const auto& u : *page) {
      if (StartsWith(u.external_id, prefix)) fill_users.push_back(u.id);
    }
    after = page->back().id;
  }
  if (fill_users.empty()) {
    Fail(Status::NotFound("no user's external id starts with '" + prefix + "'"));
  }
  const std::string model(face::kModelVersion);
  auto existing = db.LoadTemplatesForIndex(model);
  if (!existing.ok()) Fail(existing.status());
  std::vector<int64_t> sorted_fill = fill_users;
  std::sort(sorted_fill.begin(), sorted_fill.end());
  std::vector<size_t> real_rows;
  for (size_t i = 0; i < existing->size(); ++i) {
    if (!std::binary_search(sorted_fill.begin(), sorted_fill.end(), existing->user_ids[i])) {
      real_rows.push_back(i);
    }
  }
  const int dim = face::kTemplateSize;
  if (norm == 0) {
    if (real_rows.empty()) {
      Fail(Status::FailedPrecondition(
          "no real templates to take the norm from: enroll the real people first or give "
          "--norm"));
    }
    double sum = 0;
    for (size_t i : real_rows) {
      double sq = 0;
      for (float v : existing->row(i)) sq += static_cast<double>(v) * v;
      sum += std::sqrt(sq);
    }
    norm = sum / static_cast<double>(real_rows.size());
  }
  if (templates == 0) templates = static_cast<long long>(fill_users.size());

  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(batch) * dim);
  double min_distance = std::numeric_limits<double>::infinity();
  const auto start = std::chrono::steady_clock::now();
  long long added = 0;
  size_t next_user = 0;
  while (added < templates) {
    const int n = static_cast<int>(std::min<long long>(batch, templates - added));
    std::vector<store::NewTemplate> rows(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) {
      float* v = values.data() + static_cast<size_t>(k) * dim;
      double sq = 0;
      for (int d = 0; d < dim; ++d) {
        v[d] = gauss(rng);
        sq += static_cast<double>(v[d]) * v[d];
      }
      const float scale = static_cast<float>(norm / std::sqrt(sq));
      for (int d = 0; d < dim; ++d) v[d] *= scale;
      for (size_t i : real_rows) {
        const auto r = existing->row(i);
        double dist = 0;
        for (int d = 0; d < dim; ++d) {
          const double diff = static_cast<double>(v[d]) - r[d];
          dist += diff * diff;
        }
        min_distance = std::min(min_distance, std::sqrt(dist));
      }
      store::NewTemplate& t = rows[static_cast<size_t>(k)];
      t.user_id = fill_users[next_user++ % fill_users.size()];
      t.source = store::TemplateSource::kImport;
      t.model_version = model;
      t.values = std::span<const float>(v, static_cast<size_t>(dim));
      t.quality_json = R"({"filler":true})";
    }
    auto ids = db.AddTemplates(rows);
    if (!ids.ok()) Fail(ids.status());
    added += n;
    if (progress) {
      std::fprintf(stderr, "\rfacegate-filler: %lld / %lld templates", added, templates);
    }
  }
  if (progress) std::fputc('\n', stderr);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool measured = !real_rows.empty();
  if (json) {
    nlohmann::json out = {
        {"added", added},
        {"users", fill_users.size()},
        {"norm", norm},
        {"real_templates", real_rows.size()},
        {"min_distance_to_real", measured ? nlohmann::json(min_distance) : nlohmann::json(nullptr)},
        {"seconds", seconds}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("added %lld filler templates to %zu users (norm %.3f) in %.1f s", added,
                fill_users.size(), norm, seconds);
    if (measured) {
      std::printf("; nearest real template at %.3f", min_distance);
    }
    std::printf("\n");
  }
  return 0;
}
