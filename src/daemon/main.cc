// facegated's command line.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "facegate/core/logging.h"
#include "facegate/core/version.h"
#include "facegate/daemon/daemon.h"
#include "facegate/daemon/host_check.h"
#include "signals.h"

namespace facegate::daemon {
namespace {

constexpr const char* kDefaultConfig = "/etc/facegate/facegate.json";

// Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void PrintHelp() {
  std::printf(
      "Usage: facegated [--config FILE] [--init | --check-config | --check-host [--json]]\n"
      "\n"
      "Facegate's face-recognition access server. Door terminals send captures to the\n"
      "device listener over HTTPS; admins use the admin listener (and facegatectl).\n"
      "\n"
      "Options:\n"
      "  -c, --config FILE   configuration file (default %s)\n"
      "      --init          create the data directory, template key, database, local CA,\n"
      "                      server certificate and (once) the first admin token, printed\n"
      "                      on stdout; then exit without serving\n"
      "      --check-config  validate the configuration file and exit\n"
      "      --check-host    check this machine against the requirements (CPU with AVX2,\n"
      "                      memory, data_dir's file system and encryption, time sync);\n"
      "                      exit 1 when facegated would refuse to start here\n"
      "      --json          with --check-host: the facts as JSON\n"
      "      --version       print the version and exit\n"
      "  -h, --help          show this help\n"
      "\n"
      "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads certificates and the log level.\n"
      "Exit codes: 0 success, 1 run-time failure, 2 bad usage or configuration.\n"
      "Documentation: docs/facegated.md, docs/config.md\n",
      kDefaultConfig);
}

const char* YesNo(Tristate t, const char* yes, const char* no) {
  return t == Tristate::kYes ? yes : t == Tristate::kNo ? no : "unknown";
}

// facegated --check-host: the host facts for the configured data_dir (or, before --init,
// the nearest directory above it that exists) and what they mean for a start.
int CheckHost(const DaemonOptions& o, bool json) {
  std::filesystem::path dir = o.data_dir;
  std::error_code ec;
  while (!dir.empty() && !std::filesystem::exists(dir, ec) && dir != dir.parent_path()) {
    dir = dir.parent_path();
  }
  const HostFacts f = ReadHostFacts(dir.empty() ? "." : dir);
  const HostVerdict v = JudgeHost(f, o.server.allow_no_avx2);
  if (json) {
    std::printf("%s\n", HostFactsJson(f, v).c_str());
  } else {
    std::printf("cpu:      AVX2 with FMA %s%s\n", f.avx2_fma ? "yes" : "no",
                !f.avx2_fma && o.server.allow_no_avx2 ? " (allowed: server.allow_no_avx2)" : "");
    std::printf("memory:   %llu MiB\n", static_cast<unsigned long long>(f.memory_bytes >> 20));
    std::printf("data_dir: %s: %s on %s, %s\n", o.data_dir.c_str(), f.data_fs_type.c_str(),
                f.data_device.empty() ? "no block device" : f.data_device.c_str(),
                YesNo(f.data_encrypted, "encrypted", "not encrypted"));
    std::printf("clock:    %s", YesNo(f.clock_synchronized, "synchronised", "NOT synchronised"));
    if (f.clock_max_error_us >= 0) {
      std::printf(" (max error %lld ms)", static_cast<long long>(f.clock_max_error_us / 1000));
    }
    std::printf("\n");
    for (const auto& w : v.warnings)
      std::printf("warning:  %s: %s\n", w.name.c_str(), w.message.c_str());
    if (!v.refusal.ok()) {
      std::printf("REFUSED:  %s\n", v.refusal.message().c_str());
    } else {
      std::printf("OK (%zu warnings)\n", v.warnings.size());
    }
  }
  return v.refusal.ok() ? 0 : kExitFailure;
}

}  // namespace

int DaemonMain(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  bool init_only = false, check_only = false, check_host = false, json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      PrintHelp();
      return 0;
    } else if (arg == "--version") {
      std::printf("facegated %s (%s, %s)\n", std::string(Version()).c_str(),
                  std::string(BuildType()).c_str(), std::string(CompilerId()).c_str());
      return 0;
    } else if (arg == "-c" || arg == "--config") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "facegated: %s needs a file name\n", arg.c_str());
        return kExitUsage;
      }
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(std::strlen("--config="));
    } else if (arg == "--init") {
      init_only = true;
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--check-host") {
      check_host = true;
    } else if (arg == "--json") {
      json = true;
    } else {
      std::fprintf(stderr, "facegated: unknown argument '%s' (see --help)\n", arg.c_str());
      return kExitUsage;
    }
  }

  auto options = LoadDaemonOptions(config_path);
  if (!options.ok()) {
    std::fprintf(stderr, "facegated: %s\n", options.status().message().c_str());
    return kExitUsage;
  }
  if (check_only) {
    std::printf("%s: OK\n", config_path.c_str());
    return 0;
  }
  if (check_host) return CheckHost(*options, json);
  if (Status s = InitLogging(options->log); !s.ok()) {
    std::fprintf(stderr, "facegated: %s\n", s.ToString().c_str());
    return kExitUsage;
  }
  // Signals are turned into flags before anything slow starts, so an early SIGTERM is kept.
  InstallSignalHandlers();
  spdlog::info("facegated {} starting config={} data_dir={}", Version(), config_path,
               options->data_dir.string());

  auto daemon = Daemon::Create(*options, SystemClock::Instance());
  if (!daemon.ok()) {
    spdlog::critical("{}", daemon.status().ToString());
    return kExitFailure;
  }
  if (Status s = (*daemon)->Initialize(); !s.ok()) {
    spdlog::critical("initialisation failed: {}", s.ToString());
    return kExitFailure;
  }
  if (init_only) {
    auto token = (*daemon)->CreateFirstAdminToken();
    if (!token.ok()) {
      spdlog::critical("cannot create the first admin token: {}", token.status().ToString());
      return kExitFailure;
    }
    spdlog::info("initialised {}", options->data_dir.string());
    if (!token->empty()) {
      // stdout, not the log: the token must not land in journald.
      std::printf(
          "First admin token (shown only now; store it safely, e.g. in a password manager):\n"
          "%s\n",
          token->c_str());
    } else {
      std::printf("An admin token exists already; none was created.\n");
    }
    return 0;
  }
  if (Status s = (*daemon)->Start(); !s.ok()) {
    spdlog::critical("start-up failed: {}", s.ToString());
    return kExitFailure;
  }
  return (*daemon)->RunUntilStopped();
}

}  // namespace facegate::daemon
