// `facegatectl face enroll|list|delete|photo`: a person's face templates, through the admin
// API of a running facegated (docs/admin-api.md). Enrollment sends each photo as it is (POST
// /api/v1/users/ID/faces); the daemon's face workers embed it at the enrollment priority, its
// quality gate (the one the doors apply) decides, and the duplicate check compares it with the
// gallery. Photos are kept only with the daemon's admin.keep_photos (`face photo` reads one
// back); template values never leave the daemon here: the report gives per image the
// verdict, the reason and the measured quality values, and for an accepted one the
// template's id.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl_api_command.h"
#include "ctl_common.h"
#include "ctl_output.h"
#include "facegate/core/files.h"
#include "facegate/face/matching.h"

namespace facegate::app {
namespace {

using ctl::ApiCommand;
using ctl::kFailure;
using ctl::kOk;
using ctl::kUsage;
using ctl::PrintJson;
using ctl::Quoted;
using ctl::Str;
using ctl::UrlEncode;
using json = nlohmann::json;

#define FG_CONN "[--json] [--url URL] [--token-file FILE] [--ca FILE]"

constexpr const char* kEnrollHelp =
    "Usage: facegatectl face enroll EXTERNAL_ID IMAGE... [--source admin] " FG_CONN
    "\n"
    "\n"
    "Enrolls the face in each JPEG or PNG image for an existing user, through the admin API\n"
    "(an operator token): the daemon's face engine embeds it, the quality gate decides, the\n"
    "duplicate check compares it with every enrolled face, and each accepted image becomes\n"
    "one encrypted template. An image must show exactly one face. Template values are never\n"
    "printed. For many people at once use 'facegatectl import'.\n"
    "\n"
    "Output: per image 'accepted, template ID' with the quality measures, or 'refused:\n"
    "REASON' (no_face, multiple_faces, too_blurred, ..., duplicate_face naming the other\n"
    "user) with the measures that decided.\n"
    "\n"
    "Options:\n"
    "  --source S        admin (the only one: imports go through 'facegatectl "
    "import')\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 at least one image enrolled, 1 none was (each refusal is reported with\n"
    "its reason) or an image could not be read, 2 usage error, " FG_API_EXIT
    "5 no such user,\n6 none was enrolled and a photo is the face of another user.\n";

constexpr const char* kListHelp =
    "Usage: facegatectl face list EXTERNAL_ID " FG_CONN
    "\n"
    "\n"
    "The user's face templates, metadata only: id, source, model version, key, quality\n"
    "values, creation time (GET /api/v1/users/ID/faces).\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT "5 no such user.\n";

constexpr const char* kDeleteHelp =
    "Usage: facegatectl face delete TEMPLATE_ID [--yes] " FG_CONN
    "\n"
    "\n"
    "Deletes one face template (ids from 'facegatectl face list'): DELETE\n"
    "/api/v1/faces/ID, an operator token. The daemon's index drops it before answering.\n"
    "\n"
    "Options:\n"
    "  --yes             proceed without asking (required when stdin is not a "
    "terminal)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 deleted, 1 failed, 2 usage error or --yes missing, " FG_API_EXIT
    "5 no such\ntemplate.\n";

constexpr const char* kPhotoHelp =
    "Usage: facegatectl face photo TEMPLATE_ID --output FILE " FG_CONN
    "\n"
    "\n"
    "Writes the photo a template was enrolled from to FILE (mode 0600), as it was uploaded\n"
    "(GET /api/v1/faces/ID/photo, an operator token, audited). Photos are kept only when the\n"
    "daemon's config says admin.keep_photos: true; they are erased with the template and the\n"
    "user. FILE is written as FILE.partial and renamed once complete; '-' writes to stdout.\n"
    "\n"
    "Options:\n"
    "  --output FILE     where the photo goes (required: an image on a terminal is no "
    "use)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 written, 1 failed, 2 usage error, " FG_API_EXIT
    "5 no such template or\nno photo kept for it.\n";

std::string QualityText(const json& q) {
  if (!q.is_object()) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "score %.2f, inter-ocular %.1f px, sharpness %.1f, yaw %.1f, pitch %.1f, roll "
                "%.1f, brightness %.1f, saturated %.3f",
                q.value("detection_score", 0.0), q.value("interocular_px", 0.0),
                q.value("sharpness", 0.0), q.value("yaw_deg", 0.0), q.value("pitch_deg", 0.0),
                q.value("roll_deg", 0.0), q.value("brightness", 0.0),
                q.value("saturated_fraction", 0.0));
  return buf;
}

// The media type of an image by its first bytes (the server checks again).
std::string ImageType(const std::string& bytes) {
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8) {
    return "image/jpeg";
  }
  if (bytes.rfind("\x89PNG", 0) == 0) return "image/png";
  return "application/octet-stream";
}

int Enroll(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl face enroll", kEnrollHelp, {}, {"--source"}, 2,
                   SIZE_MAX, "expected EXTERNAL_ID and an image");
  if (rc != kOk) return ApiCommand::Done(rc);
  if (auto v = c.args.Value("--source"); v && *v != "admin") {
    // Self-enrollment needs the person's recorded consent; imports have their own command.
    return ctl::UsageError(
        c.prog, "--source: only admin (bulk imports: facegatectl import), got " + Quoted(*v),
        c.help);
  }
  if (int r = c.Connect(); r != kOk) return r;
  const std::string user = c.args.positional[0];
  const std::string path = "/api/v1/users/" + UrlEncode(user);
  // The user first: a typo should not upload photos.
  auto u = c.Get(path);
  if (!u) return c.rc;
  if (!u->value("active", true) || u->value("banned", false)) {
    std::fprintf(stderr, "%s: warning: user %s is %s: enrolled faces are refused at the doors\n",
                 c.prog.c_str(), user.c_str(), u->value("banned", false) ? "banned" : "inactive");
  }

  json images = json::array();
  int accepted = 0, duplicates = 0;
  for (size_t i = 1; i < c.args.positional.size(); ++i) {
    const std::string& file = c.args.positional[i];
    json o = {{"image", file}, {"accepted", false},  {"reason", ""},
              {"message", ""}, {"quality", nullptr}, {"template_id", nullptr}};
    auto bytes = ReadFile(file, 64 << 20);
    if (!bytes.ok()) {
      o["reason"] = "unreadable";
      o["message"] = bytes.status().message();
      images.push_back(std::move(o));
      continue;
    }
    auto r = c.client->Request("POST", path + "/faces", *bytes, ImageType(*bytes));
    if (!r.ok()) return ctl::FailRequest(c.prog, r.status());
    const json& j = r->json;
    if (r->status == 201) {
      ++accepted;
      o["accepted"] = true;
      o["reason"] = "ok";
      o["quality"] = j.value("quality", json());
      o["template_id"] = j.value("face", json::object()).value("id", json());
      o["duplicate_of"] = j.value("duplicate_of", json());
    } else if (r->status == 422 || (r->status == 409 && Str(j, "error", "") == "duplicate_face") ||
               r->status == 400 || r->status == 413 || r->status == 415) {
      o["reason"] = Str(j, "error", std::to_string(r->status));
      o["message"] = Str(j, "message", "");
      o["quality"] = j.value("quality", json());
      if (j.contains("faces")) o["faces"] = j["faces"];
      if (j.contains("other_user")) {
        o["other_user"] = j["other_user"];
        ++duplicates;
      }
    } else {
      return ctl::FailResponse(c.prog, *r);  // 401, 403, 404, 503, ...: nothing more to try
    }
    images.push_back(std::move(o));
  }
  auto faces = c.Get(path + "/faces");
  const int64_t total =
      faces ? static_cast<int64_t>(faces->value("items", json::array()).size()) : -1;
  const int refused = static_cast<int>(images.size()) - accepted;
  if (c.args.json) {
    PrintJson({{"user", user},
               {"model_version", face::kModelVersion},
               {"source", "admin"},
               {"images", images},
               {"accepted", accepted},
               {"refused", refused},
               {"templates_of_user", total}});
  } else {
    for (const auto& o : images) {
      const std::string q = QualityText(o["quality"]);
      if (o["accepted"].get<bool>()) {
        std::printf("%s: accepted, template %lld (%s)%s%s\n", Str(o, "image").c_str(),
                    static_cast<long long>(o.value("template_id", int64_t{0})), q.c_str(),
                    o["duplicate_of"].is_string() ? "; flagged: the face of user " : "",
                    Str(o, "duplicate_of", "").c_str());
      } else {
        const std::string msg = Str(o, "message", "");
        std::printf("%s: refused: %s%s%s%s%s\n", Str(o, "image").c_str(), Str(o, "reason").c_str(),
                    msg.empty() ? "" : ": ", msg.c_str(), q.empty() ? "" : "; ", q.c_str());
      }
    }
    std::printf("user %s: %d of %zu image(s) enrolled; %lld face template(s) in all\n",
                user.c_str(), accepted, images.size(), static_cast<long long>(total));
  }
  if (accepted == 0) {
    std::fprintf(stderr, "%s: no image was enrolled for user %s\n", c.prog.c_str(), user.c_str());
    return duplicates > 0 ? ctl::kConflict : kFailure;
  }
  return kOk;
}

int List(int argc, char** argv) {
  ApiCommand c;
  int rc =
      c.Parse(argc, argv, "facegatectl face list", kListHelp, {}, {}, 1, 1, "no external id given");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  const std::string& user = c.args.positional[0];
  auto faces = c.GetAll("/api/v1/users/" + UrlEncode(user) + "/faces");
  if (!faces) return c.rc;
  for (auto& t : *faces) t["current_model"] = Str(t, "model_version") == face::kModelVersion;
  if (c.args.json) {
    PrintJson({{"user", user}, {"faces", *faces}});
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : *faces) {
    rows.push_back(
        {std::to_string(t.value("id", int64_t{0})), Str(t, "source"),
         Str(t, "model_version") + (t["current_model"].get<bool>() ? "" : " (re-enroll)"),
         std::to_string(t.value("key_id", int64_t{0})), Str(t, "created_at"),
         QualityText(t.value("quality", json()))});
  }
  ctl::PrintTable({"ID", "SOURCE", "MODEL", "KEY", "CREATED", "QUALITY"}, rows);
  return kOk;
}

// The TEMPLATE_ID argument; nullopt after printing the usage error.
std::optional<int64_t> TemplateIdArg(const ApiCommand& c) {
  auto id = ctl::ParseInt(c.args.positional[0], 1, INT64_MAX);
  if (!id) {
    ctl::UsageError(
        c.prog, "expected a template id (a positive number), got " + Quoted(c.args.positional[0]),
        c.help);
  }
  return id;
}

int Delete(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl face delete", kDeleteHelp, {"--yes"}, {}, 1, 1,
                   "no template id given");
  if (rc != kOk) return ApiCommand::Done(rc);
  auto id = TemplateIdArg(c);
  if (!id) return kUsage;
  if (int r =
          ctl::Confirm(c.prog, "delete face template " + std::to_string(*id), c.args.Has("--yes"));
      r != kOk) {
    return r;
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto r = c.Call("DELETE", "/api/v1/faces/" + std::to_string(*id));
  if (!r) return c.rc;
  if (c.args.json) {
    PrintJson(r->json);
  } else {
    std::printf("face template %lld of user %s deleted\n", static_cast<long long>(*id),
                Str(r->json, "user").c_str());
  }
  return kOk;
}

int Photo(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl face photo", kPhotoHelp, {}, {"--output"}, 1, 1,
                   "no template id given");
  if (rc != kOk) return ApiCommand::Done(rc);
  auto id = TemplateIdArg(c);
  if (!id) return kUsage;
  auto file = c.args.Value("--output");
  if (!file) return ctl::UsageError(c.prog, "--output FILE is required ('-' for stdout)", c.help);
  if (*file == "-") c.args.values.erase("--output");
  if (int r = c.Connect(); r != kOk) return r;
  uint64_t bytes = 0;
  if (int r = ctl::Download(c, "/api/v1/faces/" + std::to_string(*id) + "/photo", &bytes);
      r != kOk) {
    return r;
  }
  if (*file == "-") return kOk;
  if (c.args.json) {
    PrintJson({{"template_id", *id}, {"file", *file}, {"bytes", bytes}});
  } else {
    std::fprintf(stderr, "%s: photo of face template %lld written to %s (%llu bytes)\n",
                 c.prog.c_str(), static_cast<long long>(*id), file->c_str(),
                 static_cast<unsigned long long>(bytes));
  }
  return kOk;
}

}  // namespace

// argv[0] is the subcommand: "enroll", "list", "delete" or "photo".
int RunFaceEnrollCommand(int argc, char** argv) {
  const std::string cmd = argc > 0 ? argv[0] : "";
  if (cmd == "enroll") return Enroll(argc - 1, argv + 1);
  if (cmd == "list") return List(argc - 1, argv + 1);
  if (cmd == "delete") return Delete(argc - 1, argv + 1);
  if (cmd == "photo") return Photo(argc - 1, argv + 1);
  return ctl::UsageError("facegatectl face", "unknown command " + Quoted(cmd));
}

}  // namespace facegate::app
