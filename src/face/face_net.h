// FaceNet: dlib's 128-d ResNet face-recognition network (the anet_type of dlib's
// dnn_face_recognition_ex.cpp), with weights read from face-api's tfjs files.
//
// The network type is instantiated in face_net.cc alone (it takes a minute and 1.8 GB to
// compile); this header keeps it behind a pointer.
// Thread-safety: a FaceNet is not thread-safe (dlib networks cache their activations): give
// each worker thread its own copy (Clone()).
#pragma once

#include <dlib/matrix.h>
#include <dlib/pixel.h>

#include <memory>
#include <vector>

#include "face/tfjs_weights.h"
#include "facegate/core/status.h"
#include "facegate/face/matching.h"

namespace facegate::face {

// The network's input: an aligned RGB chip of this many pixels square.
inline constexpr long kChipSize = 150;

using Chip = dlib::matrix<dlib::rgb_pixel>;

class FaceNet {
 public:
  // Sets `weights` into a new network. Fails (InvalidArgument naming the manifest and the
  // tensor) when a tensor is missing, unexpected or of the wrong shape.
  static Result<std::unique_ptr<FaceNet>> FromWeights(const TfjsWeights& weights);
  // LoadTfjsWeights + FromWeights.
  static Result<std::unique_ptr<FaceNet>> Load(const std::filesystem::path& manifest);

  ~FaceNet();
  FaceNet(const FaceNet&) = delete;
  FaceNet& operator=(const FaceNet&) = delete;

  // An independent copy (for another worker thread).
  std::unique_ptr<FaceNet> Clone() const;

  // The template of one chip (kChipSize x kChipSize, else InvalidArgument).
  Result<FaceTemplate> Embed(const Chip& chip);
  // Several chips in one forward pass.
  Result<std::vector<FaceTemplate>> EmbedBatch(const std::vector<Chip>& chips);

  // The names of the tfjs tensors the network needs, in network order (117).
  static std::vector<std::string> TensorNames();

 private:
  struct Impl;
  explicit FaceNet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace facegate::face
