#include "facegate/core/config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace facegate {
namespace {

std::string TypeName(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number_float()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

std::string Shown(const nlohmann::json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

Status ConfigErrors::ToStatus() const {
  if (errors_.empty()) return Status::Ok();
  std::string m;
  for (size_t i = 0; i < errors_.size(); ++i) {
    if (i > 0) m += "\n";
    m += origin_;
    m += ": ";
    m += errors_[i];
  }
  return Status::InvalidArgument(std::move(m));
}

ConfigSection::ConfigSection(const nlohmann::json* node, std::string path, ConfigErrors* errors,
                             std::filesystem::path base_dir)
    : node_(node), path_(std::move(path)), errors_(errors), base_dir_(std::move(base_dir)) {}

ConfigSection::ConfigSection(ConfigSection&& other) noexcept
    : node_(other.node_),
      path_(std::move(other.path_)),
      errors_(other.errors_),
      base_dir_(std::move(other.base_dir_)),
      seen_(std::move(other.seen_)),
      finished_(other.finished_) {
  other.finished_ = true;
}

ConfigSection::~ConfigSection() {
  if (!finished_) Finish();
}

std::string ConfigSection::KeyPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  std::string p = path_;
  p += ".";
  p += key;
  return p;
}

bool ConfigSection::Has(std::string_view key) const {
  return node_ && node_->is_object() && node_->contains(key);
}

const nlohmann::json* ConfigSection::Find(std::string_view key) {
  seen_.emplace(key);
  if (!node_ || !node_->is_object()) return nullptr;
  auto it = node_->find(key);
  if (it == node_->end()) return nullptr;
  return &*it;
}

void ConfigSection::TypeError(std::string_view key, std::string_view expected,
                              const nlohmann::json& got) {
  errors_->Add(KeyPath(key) + ": expected " + std::string(expected) + ", got " + TypeName(got) +
               " (" + Shown(got) + ")");
}

void ConfigSection::Error(std::string_view key, std::string_view message) {
  errors_->Add(KeyPath(key) + ": " + std::string(message));
}

void ConfigSection::Get(std::string_view key, std::string* out) {
  const auto* v = Find(key);
  if (!v) return;
  if (!v->is_string()) return TypeError(key, "a string", *v);
  *out = v->get<std::string>();
}

void ConfigSection::Get(std::string_view key, bool* out) {
  const auto* v = Find(key);
  if (!v) return;
  if (!v->is_boolean()) return TypeError(key, "true or false", *v);
  *out = v->get<bool>();
}

void ConfigSection::Get(std::string_view key, std::vector<std::string>* out) {
  const auto* v = Find(key);
  if (!v) return;
  if (!v->is_array()) return TypeError(key, "an array of strings", *v);
  std::vector<std::string> items;
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_string()) {
      return TypeError(std::string(key) + "[" + std::to_string(i) + "]", "a string", item);
    }
    items.push_back(item.get<std::string>());
  }
  *out = std::move(items);
}

void ConfigSection::Get(std::string_view key, int64_t* out, int64_t min, int64_t max) {
  const auto* v = Find(key);
  if (!v) return;
  std::string expected =
      "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!v->is_number_integer()) return TypeError(key, expected, *v);
  // Values beyond int64 arrive as unsigned; treat them as out of range.
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(max)) {
    return Error(key, "expected " + expected + ", got " + Shown(*v));
  }
  int64_t value = v->get<int64_t>();
  if (value < min || value > max) return Error(key, "expected " + expected + ", got " + Shown(*v));
  *out = value;
}

void ConfigSection::Get(std::string_view key, int* out, int min, int max) {
  int64_t value = *out;
  Get(key, &value, min, max);
  *out = static_cast<int>(value);
}

void ConfigSection::Get(std::string_view key, uint16_t* out, uint16_t min, uint16_t max) {
  int64_t value = *out;
  Get(key, &value, min, max);
  *out = static_cast<uint16_t>(value);
}

void ConfigSection::Get(std::string_view key, double* out, double min, double max) {
  const auto* v = Find(key);
  if (!v) return;
  std::ostringstream expected;
  expected << "a number from " << min << " to " << max;
  if (!v->is_number()) return TypeError(key, expected.str(), *v);
  double value = v->get<double>();
  if (!std::isfinite(value) || value < min || value > max) {
    return Error(key, "expected " + expected.str() + ", got " + Shown(*v));
  }
  *out = value;
}

void ConfigSection::GetEnum(std::string_view key, std::string* out,
                            std::initializer_list<std::string_view> allowed) {
  std::string list;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += "\"" + std::string(a) + "\"";
  }
  const auto* v = Find(key);
  if (!v) return;
  if (!v->is_string()) return TypeError(key, "one of " + list, *v);
  std::string value = v->get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    return Error(key, "expected one of " + list + ", got " + Shown(*v));
  }
  *out = std::move(value);
}

void ConfigSection::GetPath(std::string_view key, std::filesystem::path* out) {
  std::string text;
  bool present = Has(key);
  Get(key, &text);
  if (!present) return;
  if (text.empty()) {
    *out = std::filesystem::path();
    return;
  }
  std::filesystem::path p(text);
  *out = p.is_absolute() ? p.lexically_normal() : (base_dir_ / p).lexically_normal();
}

ConfigSection ConfigSection::Child(std::string_view key) {
  const auto* v = Find(key);
  if (v && !v->is_object()) {
    TypeError(key, "an object", *v);
    v = nullptr;
  }
  return ConfigSection(v, KeyPath(key), errors_, base_dir_);
}

void ConfigSection::Finish() {
  finished_ = true;
  if (!node_) return;
  if (!node_->is_object()) {
    errors_->Add((path_.empty() ? std::string("the top level") : path_) +
                 ": expected an object, got " + TypeName(*node_));
    return;
  }
  for (auto it = node_->begin(); it != node_->end(); ++it) {
    if (seen_.find(it.key()) == seen_.end()) {
      errors_->Add("unknown key '" + KeyPath(it.key()) + "'");
    }
  }
}

Status ParseJsonText(std::string_view text, std::string_view origin, nlohmann::json* out) {
  try {
    *out = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/true,
                                 /*ignore_comments=*/true);
    return Status::Ok();
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based; turn it into line:column for people.
    size_t line = 1, column = 1;
    size_t limit = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    for (size_t i = 0; i < limit; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ...: ".
    auto pos = what.find("syntax error");
    std::string detail = pos != std::string::npos ? what.substr(pos) : what;
    return Status::InvalidArgument(std::string(origin) + ":" + std::to_string(line) + ":" +
                                   std::to_string(column) + ": invalid JSON: " + detail);
  }
}

}  // namespace facegate
