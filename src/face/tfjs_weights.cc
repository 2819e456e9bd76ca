#include "face/tfjs_weights.h"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>

#include "facegate/core/files.h"

namespace facegate::face {
namespace {

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr size_t kMaxShardBytes = 512u << 20;

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;  // storage type: float32, uint8 or uint16
  double scale = 1, min = 0;
  int64_t elements = 0;
  size_t bytes = 0;
};

size_t DtypeBytes(const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "uint16") return 2;
  if (dtype == "uint8") return 1;
  return 0;
}

Result<std::string> ReadModelFile(const std::filesystem::path& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound(path.string() + ": model file not found");
  }
  auto data = ReadFile(path, max_bytes);
  if (!data.ok()) return data.status();
  return data;
}

Status ParseSpec(const nlohmann::json& w, const std::string& origin, TensorSpec* spec) {
  if (!w.is_object() || !w.contains("name") || !w["name"].is_string()) {
    return Status::Corruption(origin + ": a weights entry has no name");
  }
  spec->name = w["name"].get<std::string>();
  auto bad = [&](const std::string& what) {
    return Status::Corruption(origin + ": tensor '" + spec->name + "': " + what);
  };
  if (!w.contains("shape") || !w["shape"].is_array()) return bad("no shape");
  spec->elements = 1;
  for (const auto& d : w["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (1 << 24)) {
      return bad("invalid shape " + w["shape"].dump());
    }
    spec->shape.push_back(d.get<int64_t>());
    spec->elements *= spec->shape.back();
    if (spec->elements > (int64_t{1} << 31)) return bad("shape too large");
  }
  std::string dtype = w.value("dtype", "");
  if (dtype != "float32") return bad("unsupported dtype '" + dtype + "' (float32 expected)");
  spec->dtype = "float32";
  if (w.contains("quantization") && !w["quantization"].is_null()) {
    const auto& q = w["quantization"];
    if (!q.is_object()) return bad("invalid quantization entry");
    spec->dtype = q.value("dtype", "");
    if (spec->dtype != "uint8" && spec->dtype != "uint16") {
      return bad("unsupported quantization dtype '" + spec->dtype + "' (uint8 or uint16 expected)");
    }
    if (!q.contains("scale") || !q["scale"].is_number() || !q.contains("min") ||
        !q["min"].is_number()) {
      return bad("quantization without numeric scale and min");
    }
    spec->scale = q["scale"].get<double>();
    spec->min = q["min"].get<double>();
  }
  spec->bytes = static_cast<size_t>(spec->elements) * DtypeBytes(spec->dtype);
  return Status::Ok();
}

void Dequantize(const TensorSpec& spec, const char* data, std::vector<float>* out) {
  out->resize(static_cast<size_t>(spec.elements));
  if (spec.dtype == "float32") {
    std::memcpy(out->data(), data, spec.bytes);  // tfjs files are little-endian, like x86
  } else if (spec.dtype == "uint8") {
    const auto* q = reinterpret_cast<const uint8_t*>(data);
    for (size_t i = 0; i < out->size(); ++i) {
      (*out)[i] = static_cast<float>(q[i] * spec.scale + spec.min);
    }
  } else {
    for (size_t i = 0; i < out->size(); ++i) {
      uint16_t q;
      std::memcpy(&q, data + 2 * i, 2);
      (*out)[i] = static_cast<float>(q * spec.scale + spec.min);
    }
  }
}

}  // namespace

int64_t TfjsTensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TfjsTensor* TfjsWeights::Find(std::string_view name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Result<TfjsWeights> LoadTfjsWeights(const std::filesystem::path& manifest) {
  auto text = ReadModelFile(manifest, kMaxManifestBytes);
  if (!text.ok()) return text.status();
  const std::string origin = manifest.string();
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(origin + ": not valid JSON: " + e.what());
  }
  // A model.json carries the manifest under "weightsManifest"; the separate file is the array.
  const nlohmann::json* groups = &root;
  if (root.is_object() && root.contains("weightsManifest")) groups = &root["weightsManifest"];
  if (!groups->is_array() || groups->empty()) {
    return Status::Corruption(origin + ": expected a non-empty array of weight groups");
  }

  TfjsWeights out;
  out.manifest = manifest;
  const std::filesystem::path dir = manifest.parent_path();
  for (const auto& group : *groups) {
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
        !group.contains("weights") || !group["weights"].is_array()) {
      return Status::Corruption(origin + ": a weight group lacks 'paths' or 'weights'");
    }
    // The group's tensors are laid out in the concatenation of its shards.
    std::string blob;
    std::vector<std::pair<std::filesystem::path, size_t>> shard_ends;
    for (const auto& p : group["paths"]) {
      if (!p.is_string()) return Status::Corruption(origin + ": a shard path is not a string");
      std::filesystem::path shard = dir / p.get<std::string>();
      auto data = ReadModelFile(shard, kMaxShardBytes);
      if (!data.ok()) return data.status();
      blob += *data;
      shard_ends.emplace_back(shard, blob.size());
    }
    if (shard_ends.empty()) return Status::Corruption(origin + ": a weight group has no shards");
    auto shard_at = [&](size_t offset) {
      for (const auto& [path, end] : shard_ends) {
        if (offset < end) return path.string();
      }
      return shard_ends.back().first.string();
    };
    size_t offset = 0;
    for (const auto& w : group["weights"]) {
      TensorSpec spec;
      FACEGATE_RETURN_IF_ERROR(ParseSpec(w, origin, &spec));
      if (offset + spec.bytes > blob.size()) {
        return Status::Corruption(shard_at(offset) + ": too short for tensor '" + spec.name + "' " +
                                  ShapeToString(spec.shape) + " " + spec.dtype +
                                  ": it needs bytes " + std::to_string(offset) + ".." +
                                  std::to_string(offset + spec.bytes) +
                                  " of the shard data, which has " + std::to_string(blob.size()) +
                                  " (truncated file, or a manifest that does not belong to it)");
      }
      TfjsTensor t;
      t.name = spec.name;
      t.shape = spec.shape;
      Dequantize(spec, blob.data() + offset, &t.values);
      offset += spec.bytes;
      out.tensors.push_back(std::move(t));
    }
    if (offset != blob.size()) {
      return Status::Corruption(
          shard_ends.back().first.string() + ": has " + std::to_string(blob.size()) +
          " bytes but the tensors of " + origin + " need " + std::to_string(offset) +
          (out.tensors.empty() ? std::string()
                               : " (last tensor '" + out.tensors.back().name + "')") +
          ": the file and the manifest do not belong together");
    }
  }
  return out;
}

}  // namespace facegate::face
