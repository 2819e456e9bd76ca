#include "facegate/core/settings_reader.h"

namespace facegate {

std::string SettingsReader::Text(const char* key) {
  auto it = settings_.find(key);
  if (it == settings_.end() || it->is_null()) return "";
  if (!it->is_string()) {
    Error(key, "expected a string");
    return "";
  }
  return it->get<std::string>();
}

int64_t SettingsReader::Number(const char* key, int64_t fallback, int64_t min, int64_t max) {
  auto it = settings_.find(key);
  if (it == settings_.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    Error(key,
          "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return fallback;
  }
  return it->get<int64_t>();
}

void SettingsReader::Error(const std::string& key, const std::string& what) {
  errors_.push_back("settings." + key + ": " + what);
}

void SettingsReader::ErrorText(const std::string& key_and_what) {
  errors_.push_back("settings." + key_and_what);
}

Status SettingsReader::Finish() const {
  if (errors_.empty()) return Status::Ok();
  std::string all;
  for (const auto& e : errors_) all += (all.empty() ? "" : "; ") + e;
  return Status::InvalidArgument(all);
}

}  // namespace facegate
