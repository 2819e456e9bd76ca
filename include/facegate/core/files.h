// Small file helpers with the durability rules Facegate relies on.
// Thread-safety: free functions; safe to call concurrently on different paths.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "facegate/core/status.h"

namespace facegate {

// Writes `data` to `path` so that readers see the old or the new content, never a mix:
// writes `path`.new with `mode`, fsyncs it, renames it over `path` and fsyncs the directory.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data,
                           mode_t mode = 0644);

// Reads a whole file; `max_bytes` guards against reading something huge by mistake.
Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes = 64 << 20);

// Creates `dir` (and parents) and sets its mode; fails when it exists and is not a directory.
Status EnsureDirectory(const std::filesystem::path& dir, mode_t mode);

}  // namespace facegate
