// SettingsReader: reads the settings object of an integration (stored as JSON, changed through
// the admin API), collecting every problem as "settings.<key>: <what>" so that a PUT is
// answered with all of them at once.
// Thread-safety: none; one reader per parse.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate {

class SettingsReader {
 public:
  explicit SettingsReader(const nlohmann::json& settings) : settings_(settings) {}

  // A string setting; "" when absent or null (a non-string is an error).
  std::string Text(const char* key);
  // A whole number in [min, max]; `fallback` when absent or null (or wrong, with an error).
  int64_t Number(const char* key, int64_t fallback, int64_t min, int64_t max);
  // A problem with settings.<key>.
  void Error(const std::string& key, const std::string& what);
  // A problem already worded "<key>: <what>" (e.g. from a lower layer's own checks).
  void ErrorText(const std::string& key_and_what);

  bool ok() const { return errors_.empty(); }
  // Ok, or InvalidArgument with every problem joined by "; ".
  Status Finish() const;

 private:
  const nlohmann::json& settings_;
  std::vector<std::string> errors_;
};

}  // namespace facegate
