// FaceEngine: from an encoded capture (JPEG or PNG bytes) to face templates and a quality
// verdict, on a pool of worker threads.
//
// Pipeline per job: decode (limits checked on the header first) -> HOG frontal face detection
// (on a reduced copy first when faces are expected large) -> 68 landmarks -> aligned 150x150
// chip -> quality measures -> 128-d template from dlib's ResNet. The landmark model is loaded
// once per engine and shared read-only; every worker owns its network and detector.
// Jobs have a priority (terminal captures before enrolment before bulk imports) and a start
// deadline: a job that cannot start in time is refused with ResourceExhausted instead of
// making its caller wait, and a full queue refuses at once. Submit also refuses at once a job
// that would only start after its deadline, predicted from the jobs ahead of it and the
// measured mean pipeline time per worker (so an overloaded server sheds in milliseconds). Face work
// never runs on the caller's thread (except Analyze(), which waits for a worker).
//
// Image problems (empty, not JPEG/PNG, corrupt or truncated, too large) and quality problems
// are not errors: they are the analysis' verdict, with the measured values. A non-OK Status
// means the engine could not do the job (queue full, deadline, shutting down, internal).
// Thread-safety: every method may be called from any thread; callbacks run on engine threads.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/metrics.h"
#include "facegate/core/status.h"
#include "facegate/face/face_options.h"
#include "facegate/face/matching.h"

namespace facegate::face {

// Why a capture is not usable; kOk when it is.
enum class Reason {
  kOk,
  kEmptyImage,         // zero bytes
  kUnsupportedFormat,  // neither JPEG nor PNG
  kCorruptImage,       // damaged or truncated
  kImageTooLarge,      // bytes, pixels or side over the limits (checked before decoding)
  kNoFace,
  kMultipleFaces,
  kFaceTooSmall,  // inter-ocular distance
  kTooBlurred,    // variance of the Laplacian of the chip
  kPose,          // yaw, pitch or roll too far from frontal
  kTooDark,
  kOverexposed,
};
// "ok", "empty_image", "unsupported_format", "corrupt_image", "image_too_large", "no_face",
// "multiple_faces", "face_too_small", "too_blurred", "pose", "too_dark", "overexposed".
std::string_view ReasonName(Reason reason);
// The coarser reasons bulk interfaces report per photo (import rows): "ok", "unsupported_format"
// (empty, not JPEG/PNG), "corrupt_image" (damaged, truncated, over the limits), "no_face",
// "multiple_faces", "low_quality" (any quality check; the message gives the value).
std::string_view ReasonCategory(Reason reason);

struct Point {
  float x = 0, y = 0;
};

struct Box {
  int left = 0, top = 0, width = 0, height = 0;
};

// What the gate measured on one face.
struct FaceQuality {
  double detection_score = 0;  // HOG detector confidence (higher is surer)
  double interocular_px = 0;   // eye centre to eye centre, input-image pixels
  double sharpness = 0;        // variance of the Laplacian of the grey chip
  double yaw_deg = 0;          // + = the face turned to the image's right
  double pitch_deg = 0;        // + = looking down
  double roll_deg = 0;         // + = clockwise in the image
  double brightness = 0;       // mean luma of the chip's face area, 0..255
  double brightness_p5 = 0;    // 5th and 95th percentiles of that luma
  double brightness_p95 = 0;
  double saturated_fraction = 0;  // share of face-area pixels at 250 or more
};

struct DetectedFace {
  Box box;                          // detector box in the (EXIF-rotated) input image
  std::array<Point, 68> landmarks;  // dlib / iBUG 68-point layout
  FaceQuality quality;
  Reason reason = Reason::kOk;  // this face's own quality verdict (first failed check)
  std::string message;          // e.g. "inter-ocular distance 23.1 px < 40 px"
  bool has_template = false;
  FaceTemplate face_template{};
};

// Milliseconds per stage of one job.
struct StageTimings {
  double queue_ms = 0;  // waiting for a worker
  double decode_ms = 0;
  double detect_ms = 0;
  double landmarks_ms = 0;
  double chip_ms = 0;  // alignment and chip extraction
  double quality_ms = 0;
  double embed_ms = 0;
  double total_ms = 0;  // on the worker, decode to last template
};

struct FaceAnalysis {
  int image_width = 0;  // after EXIF orientation
  int image_height = 0;
  bool detected_on_reduced_copy = false;
  std::vector<DetectedFace> faces;  // largest first
  // The capture's verdict: kOk when faces[selected] passed the gate and has a template.
  Reason verdict = Reason::kNoFace;
  std::string message;
  int selected = -1;  // the face the verdict is about (-1 when none)
  StageTimings timings;

  bool accepted() const { return verdict == Reason::kOk; }
  // The accepted face's template, or FailedPrecondition with the verdict's message.
  Result<FaceTemplate> AcceptedTemplate() const;
};

enum class Priority {
  kCapture = 0,     // a terminal is waiting for a door decision
  kEnrollment = 1,  // a person is waiting in front of a screen
  kBulk = 2,        // imports and re-enrolment
};

struct AnalyzeRequest {
  std::string image;  // encoded JPEG or PNG
  Priority priority = Priority::kCapture;
  // Latest time a worker may start the job (monotonic, see Clock). Unset: submission time +
  // FaceOptions::queue_timeout_ms.
  std::optional<Clock::MonoTime> start_deadline;
  // Templates for every face found (tools, imports) rather than only the selected one.
  bool templates_for_all_faces = false;
  std::optional<MultiFacePolicy> multiple_faces;  // overrides FaceOptions::quality
};

using AnalyzeCallback = std::function<void(Result<FaceAnalysis>)>;

struct EngineInfo {
  int workers = 0;
  int queue_size = 0;
  std::string blas;  // the library dlib's BLAS calls resolve to, and its configuration
  std::filesystem::path recognition_manifest;
  std::filesystem::path landmarks_model;
};

class FaceEngine {
 public:
  // Loads the models (failing with a message naming the file and the tensor) and starts the
  // workers. `clock` (default: the system clock) must outlive the engine; so must `metrics`
  // when given (face_* series are registered there).
  static Result<std::unique_ptr<FaceEngine>> Open(const FaceOptions& options,
                                                  const Clock* clock = nullptr,
                                                  MetricsRegistry* metrics = nullptr);

  // Stops the workers; queued jobs are answered with Unavailable.
  virtual ~FaceEngine() = default;

  // Queues a job. On error (queue full: ResourceExhausted; shutting down: Unavailable) `done`
  // is never called. Otherwise it is called exactly once, on an engine thread, with the
  // analysis or ResourceExhausted when the job could not start before its deadline.
  virtual Status Submit(AnalyzeRequest request, AnalyzeCallback done) = 0;

  // Submit and wait. Do not call from an I/O thread or from a callback.
  virtual Result<FaceAnalysis> Analyze(AnalyzeRequest request) = 0;

  virtual const FaceOptions& options() const = 0;
  virtual EngineInfo Info() const = 0;
  // Jobs waiting for a worker now.
  virtual int QueueDepth() const = 0;
};

}  // namespace facegate::face
