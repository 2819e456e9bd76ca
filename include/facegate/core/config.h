// Reading the JSON configuration file into per-subsystem Options structs.
//
// Each subsystem has a `Parse<Name>Options(ConfigSection&, <Name>Options*)` that reads its own
// keys through a ConfigSection. The section records every problem with the full key path
// ("listeners.device.port: expected an integer from 0 to 65535, got 70000") and, when it is
// finished, every key nobody read ("unknown key 'listeners.device.prot'"). Missing keys keep
// the Options' defaults. ConfigErrors collects the problems of a whole file so start-up can
// report them all at once, each naming the file.
// Thread-safety: none; use from one thread while loading.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/status.h"

namespace facegate {

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string origin) : origin_(std::move(origin)) {}
  void Add(std::string message) { errors_.push_back(std::move(message)); }
  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& origin() const { return origin_; }
  // OK when there are no errors; otherwise InvalidArgument listing every error, one per line,
  // each prefixed with the origin (the file name).
  Status ToStatus() const;

 private:
  std::string origin_;
  std::vector<std::string> errors_;
};

class ConfigSection {
 public:
  // `node` must outlive the section; a null node is an absent section (all defaults).
  ConfigSection(const nlohmann::json* node, std::string path, ConfigErrors* errors,
                std::filesystem::path base_dir);
  ~ConfigSection();  // reports unknown keys if Finish() was not called
  ConfigSection(ConfigSection&&) noexcept;
  ConfigSection(const ConfigSection&) = delete;
  ConfigSection& operator=(const ConfigSection&) = delete;

  bool Has(std::string_view key) const;
  const std::string& path() const { return path_; }

  void Get(std::string_view key, std::string* out);
  void Get(std::string_view key, bool* out);
  void Get(std::string_view key, std::vector<std::string>* out);
  void Get(std::string_view key, int64_t* out, int64_t min, int64_t max);
  void Get(std::string_view key, int* out, int min, int max);
  void Get(std::string_view key, uint16_t* out, uint16_t min, uint16_t max);
  void Get(std::string_view key, double* out, double min, double max);
  // A string that must be one of `allowed`.
  void GetEnum(std::string_view key, std::string* out, std::initializer_list<std::string_view> allowed);
  // A path; relative paths are resolved against the config file's directory. An empty string
  // stays empty (meaning "not set").
  void GetPath(std::string_view key, std::filesystem::path* out);

  // A nested object; absent gives an empty section, a non-object is an error.
  ConfigSection Child(std::string_view key);

  // Records a problem with `key` found by the caller's own validation.
  void Error(std::string_view key, std::string_view message);

  // Reports keys that were never read. Called by the destructor if not called before.
  void Finish();

  const std::filesystem::path& base_dir() const { return base_dir_; }

 private:
  const nlohmann::json* Find(std::string_view key);
  std::string KeyPath(std::string_view key) const;
  void TypeError(std::string_view key, std::string_view expected, const nlohmann::json& got);

  const nlohmann::json* node_;
  std::string path_;
  ConfigErrors* errors_;
  std::filesystem::path base_dir_;
  std::set<std::string, std::less<>> seen_;
  bool finished_ = false;
};

// Parses JSON text into `out`. Syntax errors are reported with line and column.
Status ParseJsonText(std::string_view text, std::string_view origin, nlohmann::json* out);

}  // namespace facegate
