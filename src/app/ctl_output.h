// Where a facegatectl command's document or download goes: stdout, or `--output FILE`
// written as FILE.partial (mode 0600), flushed to disk and renamed to FILE only once it is
// complete, so an export cut short never leaves a file that looks whole.
// Thread-safety: none needed; one command per process.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "ctl_api_command.h"
#include "facegate/core/status.h"

namespace facegate::app::ctl {

class ExportOutput {
 public:
  // To `--output FILE` when the command has it, else stdout.
  explicit ExportOutput(const ApiCommand& c);
  ExportOutput(const ExportOutput&) = delete;
  ExportOutput& operator=(const ExportOutput&) = delete;
  // Not committed: the partial file is removed.
  ~ExportOutput();

  Status Open();
  Status Write(std::string_view piece);
  // Flushes (fsync for a file) and renames FILE.partial to FILE.
  Status Commit();

 private:
  std::string Partial() const { return *file_ + ".partial"; }

  std::optional<std::string> file_;
  std::FILE* f_ = nullptr;
};

// Writes `text` to --output FILE or stdout. kOk or kFailure (message printed).
int Output(const ApiCommand& c, const std::string& text);

// Streams a GET's body to --output FILE or stdout. kOk or the exit code (message printed);
// *bytes: how many were written.
int Download(ApiCommand& c, const std::string& path, uint64_t* bytes = nullptr);

}  // namespace facegate::app::ctl
