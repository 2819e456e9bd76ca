// TfjsWeights: reads a TensorFlow.js weights manifest and its binary shard files.
//
// The manifest (model.json's "weightsManifest" part, or a *-weights_manifest.json file) lists
// groups of shard files; each group's tensors are stored back to back in the concatenation of
// its shards, in manifest order. A tensor is float32, or quantized to uint8/uint16 with a
// "quantization" entry (value = q * scale + min). Every problem is reported with the file and,
// where there is one, the tensor it concerns.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::face {

struct TfjsTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // dequantized, row-major in `shape` order

  int64_t element_count() const;
};

struct TfjsWeights {
  std::filesystem::path manifest;
  std::vector<TfjsTensor> tensors;  // manifest order

  const TfjsTensor* Find(std::string_view name) const;
};

// "[3, 3, 32, 64]"
std::string ShapeToString(const std::vector<int64_t>& shape);

// Loads the manifest and every shard it names (relative to the manifest's directory).
// Errors: NotFound (a file is missing), IOError, Corruption (syntax, unknown dtype, a shard
// shorter or longer than its tensors need).
Result<TfjsWeights> LoadTfjsWeights(const std::filesystem::path& manifest);

}  // namespace facegate::face
