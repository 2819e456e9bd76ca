// `facegatectl face ...`: the face engine in-process, for debugging the face subsystem without
// a daemon. `embed` prints what the engine sees in each image; `compare` the distance between
// the largest faces of two images and the verdict at a security level.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl_common.h"
#include "facegate/core/config.h"
#include "facegate/core/files.h"
#include "facegate/face/face_engine.h"
#include "facegate/face/matching.h"
#include "facegate/face/quality_json.h"

namespace facegate::app {
namespace {

using ctl::kFailure;
using ctl::kHelpShown;
using ctl::kOk;
using ctl::kUsage;

constexpr const char* kFaceHelp =
    "Usage: facegatectl face COMMAND [ARGS]\n"
    "\n"
    "Runs the face engine in this process (no daemon needed).\n"
    "\n"
    "Commands:\n"
    "  embed IMAGE...   faces, landmarks, quality values and templates of each image\n"
    "  compare A B      distance between the largest faces of two images, and the verdict\n"
    "  enroll EXTERNAL_ID IMAGE...   enroll a user's faces through the admin API\n"
    "\n"
    "Run 'facegatectl face COMMAND --help' for a command's options.\n";

constexpr const char* kEmbedHelp =
    "Usage: facegatectl face embed IMAGE... [--json] [--models DIR] [--config FILE]\n"
    "\n"
    "Prints, for each JPEG or PNG image, every face found (largest first): its box, the 68\n"
    "landmarks, the quality values with the gate's verdict, and the 128-d template; then the\n"
    "image's verdict and the time of each stage.\n"
    "\n"
    "Options:\n"
    "  --json          one JSON document on stdout\n"
    "  --models DIR    directory with the model files (default: the config's face.models_dir,\n"
    "                  else /usr/share/facegate/models)\n"
    "  --config FILE   read the \"face\" section of this facegated config file\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 every image analysed (whatever it shows), 1 a file or the models could\n"
    "not be read, 2 usage error.\n";

constexpr const char* kCompareHelp =
    "Usage: facegatectl face compare A B [--json] [--level LEVEL] [--models DIR]\n"
    "                                    [--config FILE]\n"
    "\n"
    "Embeds the largest face of each image and prints their L2 distance, the similarity\n"
    "score (0..1, for reading only) and 'same' or 'different' at the security level.\n"
    "Quality problems are reported as warnings; the comparison is made anyway.\n"
    "\n"
    "Options:\n"
    "  --json          one JSON document on stdout\n"
    "  --level LEVEL   normal (0.50), high (0.45) or highest (0.40); default: the config's\n"
    "                  face.matching.security_level, else normal\n"
    "  --models DIR    directory with the model files\n"
    "  --config FILE   read the \"face\" section of this facegated config file\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 compared, 1 an image has no face or could not be read, 2 usage error.\n";

struct CommonArgs {
  bool json = false;
  std::optional<std::filesystem::path> models;
  std::optional<std::filesystem::path> config;
  std::optional<std::string> level;
  std::vector<std::string> positional;
};

// Parses the arguments after the subcommand. Returns kOk to go on, or the exit code.
int ParseArgs(int argc, char** argv, bool with_level, const char* help, CommonArgs* out) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "facegatectl face: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(help, stdout);
      return kHelpShown;
    } else if (a == "--json") {
      out->json = true;
    } else if (a == "--models") {
      const char* v = value("--models");
      if (!v) return kUsage;
      out->models = v;
    } else if (a == "--config") {
      const char* v = value("--config");
      if (!v) return kUsage;
      out->config = v;
    } else if (with_level && a == "--level") {
      const char* v = value("--level");
      if (!v) return kUsage;
      out->level = v;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "facegatectl face: unknown option %s\n\n%s", a.c_str(), help);
      return kUsage;
    } else {
      out->positional.push_back(a);
    }
  }
  return kOk;
}

Result<face::FaceOptions> BuildOptions(const CommonArgs& args) {
  face::FaceOptions o;
  if (args.config) {
    auto text = ReadFile(*args.config, 1 << 20);
    if (!text.ok()) return text.status().WithContext("cannot read the config file");
    nlohmann::json root;
    FACEGATE_RETURN_IF_ERROR(ParseJsonText(*text, args.config->string(), &root));
    ConfigErrors errors(args.config->string());
    {
      std::filesystem::path base = std::filesystem::absolute(*args.config).parent_path();
      const nlohmann::json* node =
          root.is_object() && root.contains("face") ? &root["face"] : nullptr;
      ConfigSection s(node, "face", &errors, base);
      face::ParseFaceOptions(s, &o);
    }
    FACEGATE_RETURN_IF_ERROR(errors.ToStatus());
  }
  if (args.models) {
    o.models_dir = *args.models;
    o.recognition_manifest.clear();
    o.landmarks_model.clear();
  }
  if (args.level) {
    auto level = face::ParseSecurityLevel(*args.level);
    if (!level) return Status::InvalidArgument("--level: expected normal, high or highest");
    o.matching.security_level = *level;
  }
  o.workers = 1;
  o.queue_timeout_ms = 600000;
  return o;
}

Result<std::unique_ptr<face::FaceEngine>> OpenEngine(const face::FaceOptions& o) {
  spdlog::set_level(spdlog::level::warn);  // keep stdout for the results
  return face::FaceEngine::Open(o);
}

Result<face::FaceAnalysis> AnalyzeFile(face::FaceEngine& engine, const std::string& file) {
  auto bytes = ReadFile(file, 256 << 20);
  if (!bytes.ok()) return bytes.status();
  face::AnalyzeRequest r;
  r.image = std::move(bytes).value();
  r.priority = face::Priority::kBulk;
  r.templates_for_all_faces = true;
  return engine.Analyze(std::move(r));
}

nlohmann::json AnalysisJson(const std::string& file, const face::FaceAnalysis& a) {
  nlohmann::json faces = nlohmann::json::array();
  for (const auto& f : a.faces) {
    nlohmann::json landmarks = nlohmann::json::array();
    for (const auto& p : f.landmarks) landmarks.push_back({p.x, p.y});
    nlohmann::json face = {
        {"box",
         {{"left", f.box.left},
          {"top", f.box.top},
          {"width", f.box.width},
          {"height", f.box.height}}},
        {"landmarks", landmarks},
        {"quality", face::QualityJson(f.quality)},
        {"reason", face::ReasonName(f.reason)},
        {"message", f.message},
    };
    face["template"] = f.has_template ? nlohmann::json(f.face_template) : nlohmann::json();
    faces.push_back(std::move(face));
  }
  const auto& t = a.timings;
  return {{"image", file},
          {"width", a.image_width},
          {"height", a.image_height},
          {"verdict", face::ReasonName(a.verdict)},
          {"message", a.message},
          {"selected", a.selected},
          {"detected_on_reduced_copy", a.detected_on_reduced_copy},
          {"faces", faces},
          {"timings_ms",
           {{"decode", t.decode_ms},
            {"detect", t.detect_ms},
            {"landmarks", t.landmarks_ms},
            {"chip", t.chip_ms},
            {"quality", t.quality_ms},
            {"embed", t.embed_ms},
            {"total", t.total_ms}}}};
}

void PrintAnalysis(const std::string& file, const face::FaceAnalysis& a) {
  std::printf("%s: %dx%d, %zu face(s), verdict %s%s%s\n", file.c_str(), a.image_width,
              a.image_height, a.faces.size(), std::string(face::ReasonName(a.verdict)).c_str(),
              a.message.empty() ? "" : ": ", a.message.c_str());
  for (size_t i = 0; i < a.faces.size(); ++i) {
    const auto& f = a.faces[i];
    const auto& q = f.quality;
    std::printf("  face %zu: box %d,%d %dx%d  %s%s%s\n", i, f.box.left, f.box.top, f.box.width,
                f.box.height, std::string(face::ReasonName(f.reason)).c_str(),
                f.message.empty() ? "" : ": ", f.message.c_str());
    std::printf(
        "    quality: score %.2f  inter-ocular %.1f px  sharpness %.1f  yaw %.1f  pitch %.1f  "
        "roll %.1f  brightness %.1f (p5 %.0f, p95 %.0f)  saturated %.3f\n",
        q.detection_score, q.interocular_px, q.sharpness, q.yaw_deg, q.pitch_deg, q.roll_deg,
        q.brightness, q.brightness_p5, q.brightness_p95, q.saturated_fraction);
    std::printf("    landmarks:");
    for (size_t k = 0; k < f.landmarks.size(); ++k) {
      std::printf("%s%.0f,%.0f", k % 12 == 0 ? "\n      " : " ", f.landmarks[k].x,
                  f.landmarks[k].y);
    }
    std::printf("\n");
    if (f.has_template) {
      std::printf("    template:");
      for (size_t k = 0; k < f.face_template.size(); ++k) {
        std::printf("%s%.6f", k % 8 == 0 ? "\n      " : " ", f.face_template[k]);
      }
      std::printf("\n");
    }
  }
  const auto& t = a.timings;
  std::printf(
      "  timings: decode %.1f ms, detect %.1f ms%s, landmarks %.1f ms, chip %.1f ms, quality "
      "%.1f ms, embed %.1f ms, total %.1f ms\n",
      t.decode_ms, t.detect_ms, a.detected_on_reduced_copy ? " (reduced copy)" : "", t.landmarks_ms,
      t.chip_ms, t.quality_ms, t.embed_ms, t.total_ms);
}

int Embed(int argc, char** argv) {
  CommonArgs args;
  int rc = ParseArgs(argc, argv, false, kEmbedHelp, &args);
  if (rc == kHelpShown) return kOk;
  if (rc != kOk) return rc;
  if (args.positional.empty()) {
    std::fprintf(stderr, "facegatectl face embed: no image given\n\n%s", kEmbedHelp);
    return kUsage;
  }
  auto options = BuildOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "facegatectl face embed: %s\n", options.status().message().c_str());
    return kFailure;
  }
  auto engine = OpenEngine(*options);
  if (!engine.ok()) {
    std::fprintf(stderr, "facegatectl face embed: %s\n", engine.status().message().c_str());
    return kFailure;
  }
  int status = kOk;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& file : args.positional) {
    auto a = AnalyzeFile(**engine, file);
    if (!a.ok()) {
      std::fprintf(stderr, "facegatectl face embed: %s: %s\n", file.c_str(),
                   a.status().message().c_str());
      status = kFailure;
      continue;
    }
    if (args.json) {
      all.push_back(AnalysisJson(file, *a));
    } else {
      PrintAnalysis(file, *a);
    }
  }
  if (args.json) std::printf("%s\n", all.dump(2).c_str());
  return status;
}

int Compare(int argc, char** argv) {
  CommonArgs args;
  int rc = ParseArgs(argc, argv, true, kCompareHelp, &args);
  if (rc == kHelpShown) return kOk;
  if (rc != kOk) return rc;
  if (args.positional.size() != 2) {
    std::fprintf(stderr, "facegatectl face compare: expected two images\n\n%s", kCompareHelp);
    return kUsage;
  }
  auto options = BuildOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "facegatectl face compare: %s\n", options.status().message().c_str());
    return args.level && !face::ParseSecurityLevel(*args.level) ? kUsage : kFailure;
  }
  auto engine = OpenEngine(*options);
  if (!engine.ok()) {
    std::fprintf(stderr, "facegatectl face compare: %s\n", engine.status().message().c_str());
    return kFailure;
  }
  face::FaceTemplate templates[2];
  nlohmann::json images = nlohmann::json::array();
  for (int i = 0; i < 2; ++i) {
    const std::string& file = args.positional[i];
    auto a = AnalyzeFile(**engine, file);
    if (!a.ok()) {
      std::fprintf(stderr, "facegatectl face compare: %s: %s\n", file.c_str(),
                   a.status().message().c_str());
      return kFailure;
    }
    if (a->faces.empty() || !a->faces[0].has_template) {
      std::fprintf(stderr, "facegatectl face compare: %s: %s%s%s\n", file.c_str(),
                   std::string(face::ReasonName(a->verdict)).c_str(),
                   a->message.empty() ? "" : ": ", a->message.c_str());
      return kFailure;
    }
    const face::DetectedFace& f = a->faces[0];
    templates[i] = f.face_template;
    if (f.reason != face::Reason::kOk) {
      std::fprintf(stderr, "warning: %s: the largest face would not pass the gate: %s: %s\n",
                   file.c_str(), std::string(face::ReasonName(f.reason)).c_str(),
                   f.message.c_str());
    }
    if (a->faces.size() > 1) {
      std::fprintf(stderr, "warning: %s: %zu faces, comparing the largest\n", file.c_str(),
                   a->faces.size());
    }
    images.push_back({{"image", file},
                      {"faces", a->faces.size()},
                      {"box",
                       {{"left", f.box.left},
                        {"top", f.box.top},
                        {"width", f.box.width},
                        {"height", f.box.height}}},
                      {"reason", face::ReasonName(f.reason)},
                      {"quality", face::QualityJson(f.quality)}});
  }
  const auto level = options->matching.security_level;
  const face::MatchPolicy policy = face::PolicyFor(level, options->matching.margin);
  const double distance = face::L2Distance(templates[0], templates[1]);
  const double score = face::SimilarityScore(distance);
  const bool same = face::IsSamePerson(distance, policy);
  if (args.json) {
    nlohmann::json out = {{"images", images},
                          {"distance", distance},
                          {"score", score},
                          {"security_level", face::SecurityLevelName(level)},
                          {"threshold", policy.threshold},
                          {"verdict", same ? "same" : "different"}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("distance %.4f  score %.3f  %s at security level %s (threshold %.2f)\n", distance,
                score, same ? "same" : "different",
                std::string(face::SecurityLevelName(level)).c_str(), policy.threshold);
  }
  return kOk;
}

}  // namespace

// argv[0] is the first argument after "face".
int RunFaceCommand(int argc, char** argv) {
  const std::string cmd = argc > 0 ? argv[0] : "";
  if (cmd == "embed") return Embed(argc - 1, argv + 1);
  if (cmd == "compare") return Compare(argc - 1, argv + 1);
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(kFaceHelp, stdout);
    return kOk;
  }
  if (cmd.empty()) {
    std::fputs(kFaceHelp, stderr);
  } else {
    std::fprintf(stderr, "facegatectl face: unknown command '%s'\n\n%s", cmd.c_str(), kFaceHelp);
  }
  return kUsage;
}

}  // namespace facegate::app
