// `facegatectl face enroll EXTERNAL_ID IMAGE...`: an operator enrolls a person's face from
// photos, on the daemon's host, as the daemon's user. The face engine runs in this process
// (as `face embed` does) with the daemon's own face options, so the quality gate is the one
// the doors apply; each accepted image becomes one encrypted template in the store. The
// daemon picks new templates up by itself from the store's template change log.
//
// Template values never leave the process: the report gives per image the verdict, the
// reason and the measured quality values, and for an accepted one the template's id.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl_common.h"
#include "facegate/core/files.h"
#include "facegate/face/face_engine.h"
#include "facegate/face/matching.h"
#include "facegate/store/store.h"

namespace facegate::app {
namespace {

using ctl::Args;
using ctl::kFailure;
using ctl::kHelpShown;
using ctl::kOk;
using ctl::kUsage;
using json = nlohmann::json;

constexpr const char* kEnrollHelp =
    "Usage: facegatectl face enroll EXTERNAL_ID IMAGE... [--source admin|import]\n"
    "                               [--models DIR] [--config FILE] [--json]\n"
    "\n"
    "Enrolls the face in each JPEG or PNG image for an existing user: the face engine runs\n"
    "in this process with the configuration's face options, the quality gate decides, and\n"
    "each accepted image is stored as one encrypted template (model dlib-resnet-v1). An\n"
    "image must show exactly one face. facegated picks new templates up by itself. Run on\n"
    "the daemon's host, as the daemon's user. Template values are never printed.\n"
    "\n"
    "Options:\n"
    "  --source S      admin (default: enrolled by an operator) or import (bulk import)\n"
    "  --models DIR    directory with the model files (default: the config's\n"
    "                  face.models_dir)\n"
    "  --config FILE   facegated configuration file (default /etc/facegate/facegate.json)\n"
    "  --json          one JSON document on stdout\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 at least one image enrolled, 1 none was (each refusal is reported with\n"
    "its reason), no such user, or the models or the store could not be opened, 2 usage\n"
    "error.\n";

json QualityJson(const face::FaceQuality& q) {
  return {{"detection_score", q.detection_score},
          {"interocular_px", q.interocular_px},
          {"sharpness", q.sharpness},
          {"yaw_deg", q.yaw_deg},
          {"pitch_deg", q.pitch_deg},
          {"roll_deg", q.roll_deg},
          {"brightness", q.brightness},
          {"brightness_p5", q.brightness_p5},
          {"brightness_p95", q.brightness_p95},
          {"saturated_fraction", q.saturated_fraction}};
}

std::string QualityText(const face::FaceQuality& q) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "score %.2f, inter-ocular %.1f px, sharpness %.1f, yaw %.1f, pitch %.1f, roll "
                "%.1f, brightness %.1f, saturated %.3f",
                q.detection_score, q.interocular_px, q.sharpness, q.yaw_deg, q.pitch_deg,
                q.roll_deg, q.brightness, q.saturated_fraction);
  return buf;
}

struct ImageOutcome {
  std::string image;
  bool accepted = false;
  std::string reason;  // "ok", a face::ReasonName, "unreadable" or "engine_error"
  std::string message;
  int faces = 0;
  std::optional<face::FaceQuality> quality;  // of the face the verdict is about
  std::optional<int64_t> template_id;
};

json OutcomeJson(const ImageOutcome& o) {
  json j = {{"image", o.image},
            {"accepted", o.accepted},
            {"reason", o.reason},
            {"message", o.message},
            {"faces", o.faces},
            {"quality", o.quality ? QualityJson(*o.quality) : json(nullptr)},
            {"template_id", o.template_id ? json(*o.template_id) : json(nullptr)}};
  return j;
}

ImageOutcome EnrollImage(face::FaceEngine& engine, store::Store& s, int64_t user_id,
                         store::TemplateSource source, const std::string& file) {
  ImageOutcome out;
  out.image = file;
  auto bytes = ReadFile(file, 256 << 20);
  if (!bytes.ok()) {
    out.reason = "unreadable";
    out.message = bytes.status().message();
    return out;
  }
  face::AnalyzeRequest r;
  r.image = std::move(bytes).value();
  r.priority = face::Priority::kEnrollment;
  auto a = engine.Analyze(std::move(r));
  if (!a.ok()) {
    out.reason = "engine_error";
    out.message = a.status().message();
    return out;
  }
  out.faces = static_cast<int>(a->faces.size());
  out.reason = std::string(face::ReasonName(a->verdict));
  out.message = a->message;
  if (a->selected >= 0 && a->selected < out.faces) out.quality = a->faces[a->selected].quality;
  auto tmpl = a->AcceptedTemplate();
  if (!tmpl.ok()) return out;  // refused: the verdict says why
  store::NewTemplate t;
  t.user_id = user_id;
  t.source = source;
  t.model_version = std::string(face::kModelVersion);
  t.values = std::span<const float>(tmpl->data(), tmpl->size());
  t.quality_json = out.quality ? QualityJson(*out.quality).dump() : "{}";
  auto id = s.AddTemplate(t);
  if (!id.ok()) {
    out.reason = "store_error";
    out.message = id.status().message();
    return out;
  }
  out.accepted = true;
  out.template_id = *id;
  return out;
}

}  // namespace

// argv[0] is the first argument after "face enroll".
int RunFaceEnrollCommand(int argc, char** argv) {
  const std::string prog = "facegatectl face enroll";
  Args args;
  int rc = ctl::ParseArgs(argc, argv, prog, kEnrollHelp, {}, {"--source", "--models"}, &args);
  if (rc == kHelpShown) return kOk;
  if (rc != kOk) return rc;
  if (!ctl::ExpectPositional(args, 2, SIZE_MAX, prog, "expected EXTERNAL_ID and an image",
                             kEnrollHelp)) {
    return kUsage;
  }
  store::TemplateSource source = store::TemplateSource::kAdmin;
  if (auto v = args.Value("--source")) {
    if (*v == "import") {
      source = store::TemplateSource::kImport;
    } else if (*v != "admin") {
      // Self-enrollment ("enrollment") needs the person's recorded consent: not from here.
      return ctl::UsageError(prog, "--source: expected admin or import, got '" + *v + "'",
                             kEnrollHelp);
    }
  }
  auto session = ctl::OpenStoreSession(args.config);
  if (!session.ok()) return ctl::Fail(prog, session.status());
  store::Store& s = *session->store;
  // The user first: loading the models takes a second, a typo should not.
  auto user = s.FindUserByExternalId(args.positional[0]);
  if (!user.ok()) return ctl::Fail(prog, user.status());
  if (!user->active || user->banned) {
    std::fprintf(stderr, "%s: warning: user %s is %s: enrolled faces are refused at the doors\n",
                 prog.c_str(), user->external_id.c_str(), user->banned ? "banned" : "inactive");
  }

  face::FaceOptions fo = session->options.face;
  if (auto m = args.Value("--models")) {
    fo.models_dir = *m;
    fo.recognition_manifest.clear();
    fo.landmarks_model.clear();
  }
  // One image at a time, and an operator waits: no queue deadline to miss.
  fo.workers = 1;
  fo.queue_timeout_ms = 600000;
  auto engine = face::FaceEngine::Open(fo);
  if (!engine.ok()) return ctl::Fail(prog, engine.status());

  std::vector<ImageOutcome> outcomes;
  int accepted = 0;
  for (size_t i = 1; i < args.positional.size(); ++i) {
    outcomes.push_back(EnrollImage(**engine, s, user->id, source, args.positional[i]));
    if (outcomes.back().accepted) ++accepted;
  }
  auto templates = s.ListTemplatesOfUser(user->id);
  const int64_t total = templates.ok() ? static_cast<int64_t>(templates->size()) : -1;

  if (args.json) {
    json images = json::array();
    for (const auto& o : outcomes) images.push_back(OutcomeJson(o));
    json out = {{"user", user->external_id},
                {"model_version", face::kModelVersion},
                {"source", store::TemplateSourceName(source)},
                {"images", images},
                {"accepted", accepted},
                {"refused", static_cast<int>(outcomes.size()) - accepted},
                {"templates_of_user", total}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& o : outcomes) {
      if (o.accepted) {
        std::printf("%s: accepted, template %lld (%s)\n", o.image.c_str(),
                    static_cast<long long>(*o.template_id),
                    o.quality ? QualityText(*o.quality).c_str() : "");
      } else {
        std::printf("%s: refused: %s%s%s%s%s\n", o.image.c_str(), o.reason.c_str(),
                    o.message.empty() ? "" : ": ", o.message.c_str(), o.quality ? "; " : "",
                    o.quality ? QualityText(*o.quality).c_str() : "");
      }
    }
    std::printf("user %s: %d of %zu image(s) enrolled; %lld face template(s) in all\n",
                user->external_id.c_str(), accepted, outcomes.size(),
                static_cast<long long>(total));
  }
  if (accepted == 0) {
    std::fprintf(stderr, "%s: no image was enrolled for user %s\n", prog.c_str(),
                 user->external_id.c_str());
    return kFailure;
  }
  return kOk;
}

}  // namespace facegate::app
