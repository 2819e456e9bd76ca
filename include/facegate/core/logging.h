// Process-wide logging set-up on top of spdlog.
//
// Code logs with spdlog's free functions (spdlog::info("listener {} bound to {}", ...)),
// writing facts as key=value pairs where a script may want them. Never log biometric data
// (templates, images) or secrets (keys, tokens).
// Under systemd (JOURNAL_STREAM names our stderr) lines carry a "<N>" syslog priority prefix
// and no timestamp: journald adds both the time and the priority from the prefix. Elsewhere
// lines are "2026-11-23T16:40:01.123Z info  message".
// Thread-safety: InitLogging once at start-up; SetLogLevel from any thread.
#pragma once

#include <string>
#include <vector>

#include "facegate/core/config.h"
#include "facegate/core/status.h"

namespace facegate {

struct LogOptions {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "auto";  // auto, journal, text
};

void ParseLogOptions(ConfigSection& section, LogOptions* options);

// True when stderr is connected to journald (systemd's JOURNAL_STREAM check).
bool StderrIsJournal();

Status InitLogging(const LogOptions& options);
Status SetLogLevel(const std::string& level);

// The last warnings and errors logged since InitLogging (at most 100, oldest first), each
// "TIME LEVEL message", for diagnostics.
std::vector<std::string> RecentProblems();

}  // namespace facegate
