#include "photoset/site_set.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "facegate/face/matching.h"
#include "photoset/render.h"

namespace facegate::photoset {

namespace {

enum Group { kWithRight = 0, kWithoutRight = 1, kStranger = 2 };

std::string ExternalId(int identity) {
  char id[16];
  std::snprintf(id, sizeof id, "P%02d", identity);
  return id;
}

double Norm(const face::FaceTemplate& t) {
  double sum = 0;
  for (float v : t) sum += static_cast<double>(v) * v;
  return std::sqrt(sum);
}

}  // namespace

Result<SiteSet> MakeSiteSet(const SiteSetOptions& options) {
  auto opened = OpenEngine(options.models_dir, options.workers);
  if (!opened.ok()) return opened.status();
  face::FaceEngine& engine = **opened;
  auto people = FindDemoPeople(engine, options.models_dir);
  if (!people.ok()) return people.status();
  const int n = people->identities();
  const int strangers = options.strangers > 0 ? options.strangers : std::max(2, n / 4);
  const int without = options.without_right > 0 ? options.without_right : std::max(2, n / 4);
  if (strangers + without + 1 > n) {
    return Status::FailedPrecondition("the demo photos hold " + std::to_string(n) +
                                      " people: too few for " + std::to_string(strangers) +
                                      " strangers, " + std::to_string(without) +
                                      " without the right and at least one with it");
  }
  // The last people are the strangers, the ones before them have no right for D1.
  std::vector<Group> group(n, kWithRight);
  for (int id = n - strangers - without; id < n - strangers; ++id) group[id] = kWithoutRight;
  for (int id = n - strangers; id < n; ++id) group[id] = kStranger;

  std::mt19937 rng(options.seed);
  double seconds = 0;
  int analysed = 0;

  // 1. One enrollment photo per enrolled person: the first rendering that is clearly them.
  std::vector<std::string> enroll_jpeg(n);
  std::vector<std::optional<face::FaceTemplate>> enrolled(n);
  for (int round = 0; round < 12; ++round) {
    std::vector<Candidate> cands;
    for (int id = 0; id < n; ++id) {
      if (group[id] == kStranger || enrolled[id]) continue;
      const auto mine = people->SeedsOf(id);
      for (int k = 0; k < 3; ++k) {
        const SeedFace& s = *mine[rng() % mine.size()];
        cands.push_back(Candidate{id, Encode(Render(people->photos[s.photo], s, rng), 92), {}, 0});
      }
    }
    if (cands.empty()) break;
    seconds += AnalyzeAll(engine, cands);
    analysed += static_cast<int>(cands.size());
    for (auto& c : cands) {
      if (enrolled[c.identity]) continue;
      auto t = OnlyFace(c);
      if (!t || face::L2Distance(*t, people->refs[c.identity]) > kOwnMax) continue;
      bool clear = true;
      for (int other = 0; other < n; ++other) {
        if (other != c.identity && face::L2Distance(*t, people->refs[other]) < kOtherMin) {
          clear = false;
        }
      }
      if (!clear) continue;
      enrolled[c.identity] = *t;
      enroll_jpeg[c.identity] = std::move(c.jpeg);
    }
  }
  for (int id = 0; id < n; ++id) {
    if (group[id] != kStranger && !enrolled[id]) {
      return Status::Internal("no clear enrollment photo of person " + ExternalId(id) +
                              " after 12 rounds");
    }
  }

  // 2. The captures, per group in the mix's proportions, people of a group in turn.
  const int mix_sum =
      std::max(1, options.mix_with_right + options.mix_without_right + options.mix_strangers);
  int wanted[3];
  wanted[kWithoutRight] = options.captures * options.mix_without_right / mix_sum;
  wanted[kStranger] = options.captures * options.mix_strangers / mix_sum;
  wanted[kWithRight] = options.captures - wanted[kWithoutRight] - wanted[kStranger];
  std::vector<int> members[3];
  for (int id = 0; id < n; ++id) members[group[id]].push_back(id);
  std::vector<std::string> accepted[3];
  std::vector<int> accepted_id[3];
  for (int round = 0; round < 20; ++round) {
    std::vector<Candidate> cands;
    for (int g = 0; g < 3; ++g) {
      const int missing = wanted[g] - static_cast<int>(accepted[g].size());
      for (int k = 0; k < missing + missing / 3 + (missing > 0 ? 1 : 0); ++k) {
        const int id = members[g][(accepted[g].size() + k) % members[g].size()];
        const auto mine = people->SeedsOf(id);
        const SeedFace& s = *mine[rng() % mine.size()];
        std::uniform_int_distribution<int> quality(50, 90);
        cands.push_back(
            Candidate{id, Encode(Render(people->photos[s.photo], s, rng), quality(rng)), {}, g});
      }
    }
    if (cands.empty()) break;
    seconds += AnalyzeAll(engine, cands);
    analysed += static_cast<int>(cands.size());
    for (auto& c : cands) {
      const int g = c.tag;
      if (static_cast<int>(accepted[g].size()) >= wanted[g]) continue;
      auto t = OnlyFace(c);
      if (!t) continue;
      bool clear = true;
      for (int other = 0; other < n && clear; ++other) {
        if (!enrolled[other]) continue;
        const float d = face::L2Distance(*t, *enrolled[other]);
        clear = other == c.identity ? d <= kOwnMax : d >= kOtherMin;
      }
      if (!clear) continue;
      accepted[g].push_back(std::move(c.jpeg));
      accepted_id[g].push_back(c.identity);
    }
  }
  for (int g = 0; g < 3; ++g) {
    if (static_cast<int>(accepted[g].size()) < wanted[g]) {
      return Status::Internal("only " + std::to_string(accepted[g].size()) + " of " +
                              std::to_string(wanted[g]) + " clear captures after 20 rounds");
    }
  }

  // 3. Files.
  const auto& out = options.out_dir;
  std::error_code ec;
  std::filesystem::create_directories(out / "enroll", ec);
  std::filesystem::create_directories(out / "captures", ec);
  if (ec) return Status::IOError("cannot create directories under " + out.string());
  SiteSet set;
  set.identities = n;
  std::string csv = "external_id,first_name,last_name,photo,groups\n";
  nlohmann::json users = nlohmann::json::array();
  double norm_sum = 0;
  for (int id = 0; id < n; ++id) {
    if (group[id] == kStranger) {
      ++set.strangers;
      continue;
    }
    const std::string ext = ExternalId(id);
    const std::string file = "enroll/" + ext + ".jpg";
    FACEGATE_RETURN_IF_ERROR(WriteBytes(out / file, enroll_jpeg[id]));
    csv += ext + ",Person," + ext + "," + file + ",\n";
    norm_sum += Norm(*enrolled[id]);
    const bool right = group[id] == kWithRight;
    (right ? set.with_right : set.without_right)++;
    users.push_back({{"ext_user_id", ext},
                     {"first_name", "Person"},
                     {"last_name", ext},
                     {"doors", {{{"door", right ? "D1" : "D2"}, {"timezone", ""}}}}});
  }
  FACEGATE_RETURN_IF_ERROR(WriteBytes(out / "enroll.csv", csv));
  nlohmann::json space = {{"users", users},
                          {"doors",
                           {{{"ext_door_id", "D1"}, {"name", "Main entrance"}},
                            {{"ext_door_id", "D2"}, {"name", "Server room"}}}}};
  FACEGATE_RETURN_IF_ERROR(WriteBytes(out / "space.json", space.dump(2) + "\n"));

  nlohmann::json list = nlohmann::json::array();
  static const char* kGroupName[3] = {"with_right", "without_right", "stranger"};
  int file_no = 0;
  for (int g = 0; g < 3; ++g) {
    for (size_t k = 0; k < accepted[g].size(); ++k) {
      char name[32];
      std::snprintf(name, sizeof name, "captures/c%04d.jpg", file_no++);
      FACEGATE_RETURN_IF_ERROR(WriteBytes(out / name, accepted[g][k]));
      const std::string who = ExternalId(accepted_id[g][k]);
      list.push_back({{"file", name},
                      {"expect", g == kWithRight ? "grant" : "deny"},
                      {"reason", g == kWithRight      ? "granted"
                                 : g == kWithoutRight ? "no_access_to_door"
                                                      : "unknown_face"},
                      {"label", who + "/" + kGroupName[g]}});
    }
  }
  FACEGATE_RETURN_IF_ERROR(WriteBytes(out / "captures.json", list.dump(1) + "\n"));
  set.captures_with_right = static_cast<int>(accepted[kWithRight].size());
  set.captures_without_right = static_cast<int>(accepted[kWithoutRight].size());
  set.captures_strangers = static_cast<int>(accepted[kStranger].size());
  set.mean_template_norm = norm_sum / std::max(1, set.with_right + set.without_right);
  set.engine_photos_per_second = seconds > 0 ? analysed / seconds : 0;
  return set;
}

}  // namespace facegate::photoset
