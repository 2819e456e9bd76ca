#include "ctl_common.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>

#include "facegate/core/time_format.h"

namespace facegate::app::ctl {

std::optional<std::string> Args::Value(std::string_view name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::Values(std::string_view name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>() : it->second;
}

int ParseArgs(int argc, char** argv, std::string_view prog, const char* help,
              std::initializer_list<std::string_view> flags,
              std::initializer_list<std::string_view> valued, Args* out) {
  auto listed = [](std::initializer_list<std::string_view> names, std::string_view a) {
    for (auto n : names) {
      if (n == a) return true;
    }
    return false;
  };
  bool options_done = false;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out->positional.push_back(a);
      continue;
    }
    auto value = [&](std::string_view name) -> const char* {
      if (i + 1 >= argc) {
        UsageError(prog, std::string(name) + " needs a value", help);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--") {
      options_done = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(help, stdout);
      return kHelpShown;
    } else if (a == "--json") {
      out->json = true;
    } else if (a == "--config" || a == "-c") {
      const char* v = value("--config");
      if (!v) return kUsage;
      out->config = v;
    } else if (listed(flags, a)) {
      out->flags.insert(a);
    } else if (listed(valued, a)) {
      const char* v = value(a);
      if (!v) return kUsage;
      out->values[a].push_back(v);
    } else {
      return UsageError(prog, "unknown option " + a, help);
    }
  }
  return kOk;
}

bool ExpectPositional(const Args& args, size_t min, size_t max, std::string_view prog,
                      std::string_view what_is_missing, const char* help) {
  if (args.positional.size() < min) {
    UsageError(prog, what_is_missing, help);
    return false;
  }
  if (args.positional.size() > max) {
    UsageError(prog, "unexpected argument '" + args.positional[max] + "'", help);
    return false;
  }
  return true;
}

int UsageError(std::string_view prog, std::string_view message, const char* help) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(prog.size()), prog.data(),
               static_cast<int>(message.size()), message.data());
  if (help) std::fprintf(stderr, "\n%s", help);
  return kUsage;
}

int Fail(std::string_view prog, const Status& status) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(prog.size()), prog.data(),
               status.message().c_str());
  return kFailure;
}

void QuietLogging() {
  auto logger = spdlog::get("facegatectl");
  if (!logger) logger = spdlog::stderr_color_mt("facegatectl");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);
}

Result<daemon::DaemonOptions> LoadConfig(const std::filesystem::path& file) {
  auto o = daemon::LoadDaemonOptions(file);
  if (!o.ok()) {
    std::string m = o.status().message();
    if (m.find("CREDENTIALS_DIRECTORY") != std::string::npos) {
      m += " (for facegatectl, set CREDENTIALS_DIRECTORY to a directory holding the same key "
           "files the unit loads)";
    }
    return Status(o.status().code(), m);
  }
  return o;
}

Result<std::unique_ptr<store::Store>> OpenStore(const daemon::DaemonOptions& options) {
  store::StoreOptions so = options.store;
  // An empty new database would hide a wrong data_dir: never create one here.
  so.create_if_missing = false;
  auto opened = store::Store::Open(so, SystemClock::Instance());
  if (!opened.ok()) {
    if (opened.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(opened.status().message() + " (check store.file and data_dir in " +
                              options.config_file.string() +
                              ", or run facegated --init on a new installation)");
    }
    return opened.status();
  }
  return opened;
}

Result<StoreSession> OpenStoreSession(const std::filesystem::path& config_file) {
  QuietLogging();
  auto o = LoadConfig(config_file);
  if (!o.ok()) return o.status();
  auto s = OpenStore(*o);
  if (!s.ok()) return s.status();
  return StoreSession{std::move(o).value(), std::move(s).value()};
}

Result<store::Door> FindDoor(store::Store& s, std::string_view external_id) {
  auto door = s.FindDoorByExternalId(external_id);
  if (!door.ok()) return door.status();
  if (!*door) {
    return Status::NotFound("no door with external id '" + std::string(external_id) +
                            "' (facegatectl door list shows the doors)");
  }
  return std::move(**door);
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print(header);
  for (const auto& row : rows) print(row);
}

std::string TimeText(const std::optional<Clock::WallTime>& t, std::string_view none) {
  return t ? FormatRfc3339(*t) : std::string(none);
}

int Confirm(std::string_view prog, std::string_view what, bool yes) {
  if (yes) return kOk;
  if (!::isatty(STDIN_FILENO)) {
    std::fprintf(stderr, "%.*s: this would %.*s; it cannot be undone. Run it again with --yes\n",
                 static_cast<int>(prog.size()), prog.data(), static_cast<int>(what.size()),
                 what.data());
    return kUsage;
  }
  std::fprintf(stderr, "This will %.*s. It cannot be undone. Proceed? [y/N] ",
               static_cast<int>(what.size()), what.data());
  std::string answer;
  if (std::getline(std::cin, answer) && (answer == "y" || answer == "Y" || answer == "yes")) {
    return kOk;
  }
  std::fprintf(stderr, "%.*s: nothing done\n", static_cast<int>(prog.size()), prog.data());
  return kFailure;
}

std::optional<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

std::optional<double> ParseDouble(std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace facegate::app::ctl
