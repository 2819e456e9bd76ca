#include "facegate/core/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace facegate {
namespace {

constexpr std::array<std::string_view, 7> kLevels = {"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};

// "%*" renders the syslog priority journald reads from a "<N>" line prefix.
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    int priority = 6;
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        priority = 7;
        break;
      case spdlog::level::info:
        priority = 6;
        break;
      case spdlog::level::warn:
        priority = 4;
        break;
      case spdlog::level::err:
        priority = 3;
        break;
      case spdlog::level::critical:
        priority = 2;
        break;
      default:
        break;
    }
    char text[4] = {'<', static_cast<char>('0' + priority), '>', 0};
    dest.append(text, text + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

}  // namespace

void ParseLogOptions(ConfigSection& section, LogOptions* options) {
  section.GetEnum("level", &options->level,
                  {"trace", "debug", "info", "warn", "error", "critical", "off"});
  section.GetEnum("format", &options->format, {"auto", "journal", "text"});
}

bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

namespace {
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt>& RecentSink() {
  static auto* sink = new std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt>();
  return *sink;
}
}  // namespace

std::vector<std::string> RecentProblems() {
  auto sink = RecentSink();
  if (!sink) return {};
  std::vector<std::string> out = sink->last_formatted();
  for (auto& line : out) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  }
  return out;
}

Status InitLogging(const LogOptions& options) {
  bool journal = options.format == "journal" || (options.format == "auto" && StderrIsJournal());
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::unique_ptr<spdlog::pattern_formatter> formatter;
  if (journal) {
    formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
  } else {
    formatter = std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v",
                                                            spdlog::pattern_time_type::utc);
  }
  sink->set_formatter(std::move(formatter));
  auto recent = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  recent->set_level(spdlog::level::warn);
  recent->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      "%Y-%m-%dT%H:%M:%SZ %l %v", spdlog::pattern_time_type::utc));
  RecentSink() = recent;
  auto logger = std::make_shared<spdlog::logger>("facegate", spdlog::sinks_init_list{sink, recent});
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);
  return SetLogLevel(options.level);
}

Status SetLogLevel(const std::string& level) {
  if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
    return Status::InvalidArgument("unknown log level '" + level + "'");
  }
  spdlog::set_level(spdlog::level::from_str(level));
  return Status::Ok();
}

}  // namespace facegate
