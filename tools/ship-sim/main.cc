// facegate-ship-sim: a Salto Space server speaking SHIP, for tests and demos
// (docs/ship-sim.md). Prints one JSON "ready" line on stdout once it listens; logs go to
// stderr. It stops by itself (--exit-after), on SIGTERM/SIGINT, and when its parent dies.
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>

#include "facegate/core/clock.h"
#include "facegate/core/files.h"
#include "facegate/net/pki.h"
#include "ship-sim/sim_server.h"
#include "ship-sim/sim_state.h"

namespace {

namespace fs = std::filesystem;
using facegate::Result;
using facegate::Status;
namespace shipsim = facegate::shipsim;

const char kHelp[] =
    "Usage: facegate-ship-sim [--data FILE] [--state-dir DIR | --pki-dir DIR]\n"
    "                         [--address ADDR] [--port N] [--stp-port N [--stp-plain]]\n"
    "                         [--auth key|basic] [--api-key K | --api-key-file F]\n"
    "                         [--basic-user U --basic-password P]\n"
    "                         [--fault MODE [--fault-code N] [--fault-bytes N]\n"
    "                          [--fault-delay-ms N] [--fault-seconds N] [--fault-only NAME]]\n"
    "                         [--ready-file F] [--exit-after SECONDS] [--log-level LEVEL]\n"
    "\n"
    "Simulates a Salto Space server speaking SHIP over HTTPS (and STP when --stp-port is\n"
    "given), with users, doors, groups and time-zone tables from a JSON file, door openings\n"
    "recorded, faults to order and JSON control endpoints under https://ADDR:PORT/_sim/.\n"
    "A test tool: it listens on loopback only and its control endpoints need no key.\n"
    "Once listening it prints one line on stdout:\n"
    "  {\"event\":\"ready\",\"https_port\":N,\"stp_port\":M|null,\"ca_file\":\"...\",\n"
    "   \"fingerprint\":\"AA:BB:..\",\"control\":\"https://127.0.0.1:N/_sim\",...}\n"
    "\n"
    "Data and certificate:\n"
    "  --data FILE          users, doors, groups, timezones, door_errors (JSON; "
    "docs/ship-sim.md);\n"
    "                       none: an empty Space\n"
    "  --state-dir DIR      where the simulator keeps its files (created; default: a temporary\n"
    "                       directory removed at exit)\n"
    "  --pki-dir DIR        the CA and server certificate (default: STATE_DIR/pki); DIR/ca.crt\n"
    "                       verifies the server, or pin the printed fingerprint\n"
    "Listeners:\n"
    "  --address ADDR       loopback address to listen on (default 127.0.0.1)\n"
    "  --port N             HTTPS port (default 0: any free port)\n"
    "  --stp-port N         also listen for STP frames (0: any free port)\n"
    "  --stp-plain          STP over plain TCP (default: TLS with the same certificate)\n"
    "Authentication of SHIP requests over HTTPS:\n"
    "  --auth key|basic     Salto-SHIP-Key header (default) or HTTP Basic\n"
    "  --api-key K          the expected key (visible in ps; prefer --api-key-file); without\n"
    "                       a key any non-empty Salto-SHIP-Key is accepted\n"
    "  --api-key-file F     read the key from F (one line)\n"
    "  --basic-user U       with --auth basic\n"
    "  --basic-password P\n"
    "Faults (also POST /_sim/fault at run time):\n"
    "  --fault MODE         none, unauthorized, hang, drop, malformed, exception,\n"
    "                       wrong_content_type, oversized, slow, down\n"
    "  --fault-code N       exception: the SHIP error code (default 500)\n"
    "  --fault-bytes N      oversized: the answer's size (default 8388608)\n"
    "  --fault-delay-ms N   slow: the delay before answering (default 2000)\n"
    "  --fault-seconds N    down: how long (default 5)\n"
    "  --fault-only NAME    only for requests of that name (e.g. OnlineDoor.Open)\n"
    "Running:\n"
    "  --ready-file F       also write the ready line to F (atomically)\n"
    "  --exit-after SECONDS stop by itself after that long (default 1800)\n"
    "  --log-level LEVEL    trace, debug, info (default), warn, error, off\n"
    "  -h, --help           this help\n"
    "\n"
    "Control endpoints (JSON): POST /_sim/fault, GET /_sim/fault, GET|DELETE /_sim/openings,\n"
    "PUT|DELETE /_sim/users/{id}, POST /_sim/users/generate, GET /_sim/stats, POST /_sim/key.\n"
    "Exit status: 0 stopped (signal or --exit-after), 1 cannot run (port, certificate),\n"
    "2 usage error or bad data file.\n";

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr, "facegate-ship-sim: %s\n(see facegate-ship-sim --help)\n", problem.c_str());
  std::exit(2);
}

Result<uint16_t> Port(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0 || v > 65535) {
    return Status::InvalidArgument(option + ": expected a port 0-65535, got '" + text + "'");
  }
  return static_cast<uint16_t>(v);
}

Result<long long> Number(const std::string& option, const std::string& text, long long low,
                         long long high) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < low || v > high) {
    return Status::InvalidArgument(option + ": expected a number " + std::to_string(low) + "-" +
                                   std::to_string(high) + ", got '" + text + "'");
  }
  return v;
}

template <class T>
T OrUsage(Result<T> r) {
  if (!r.ok()) Usage(r.status().message());
  return std::move(r).value();
}

struct Options {
  std::optional<fs::path> data_file;
  std::optional<fs::path> state_dir, pki_dir, ready_file;
  std::optional<fs::path> api_key_file;
  std::optional<std::string> api_key;
  std::string auth = "key";
  nlohmann::json fault = nlohmann::json::object();  // checked by shipsim::FaultFromJson
  long long exit_after_seconds = 1800;
  std::string log_level = "info";
  shipsim::SimServerOptions server;
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  bool stp_plain = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (a == "--data") {
      o.data_file = value();
    } else if (a == "--state-dir") {
      o.state_dir = value();
    } else if (a == "--pki-dir") {
      o.pki_dir = value();
    } else if (a == "--address") {
      o.server.address = value();
    } else if (a == "--port") {
      o.server.https_port = OrUsage(Port(a, value()));
    } else if (a == "--stp-port") {
      o.server.stp = true;
      o.server.stp_port = OrUsage(Port(a, value()));
    } else if (a == "--stp-plain") {
      stp_plain = true;
    } else if (a == "--auth") {
      o.auth = value();
    } else if (a == "--api-key") {
      o.api_key = value();
    } else if (a == "--api-key-file") {
      o.api_key_file = value();
    } else if (a == "--basic-user") {
      o.server.basic_user = value();
    } else if (a == "--basic-password") {
      o.server.basic_password = value();
    } else if (a == "--fault") {
      o.fault["mode"] = value();
    } else if (a == "--fault-code") {
      o.fault["code"] = OrUsage(Number(a, value(), 0, 1000000));
    } else if (a == "--fault-bytes") {
      o.fault["bytes"] = OrUsage(Number(a, value(), 1, shipsim::kMaxOversizedBytes));
    } else if (a == "--fault-delay-ms") {
      o.fault["delay_ms"] = OrUsage(Number(a, value(), 0, 600000));
    } else if (a == "--fault-seconds") {
      o.fault["seconds"] = OrUsage(Number(a, value(), 1, 3600));
    } else if (a == "--fault-only") {
      o.fault["only"] = value();
    } else if (a == "--ready-file") {
      o.ready_file = value();
    } else if (a == "--exit-after") {
      o.exit_after_seconds = OrUsage(Number(a, value(), 1, 7 * 24 * 3600));
    } else if (a == "--log-level") {
      o.log_level = value();
    } else {
      Usage("unknown argument '" + a + "'");
    }
  }
  if (stp_plain && !o.server.stp) Usage("--stp-plain needs --stp-port");
  o.server.stp_plain = stp_plain;
  if (o.auth == "key") {
    o.server.auth = shipsim::SimServerOptions::Auth::kKey;
    if (o.api_key && o.api_key_file) Usage("give --api-key or --api-key-file, not both");
    if (!o.server.basic_user.empty() || !o.server.basic_password.empty()) {
      Usage("--basic-user and --basic-password need --auth basic");
    }
  } else if (o.auth == "basic") {
    o.server.auth = shipsim::SimServerOptions::Auth::kBasic;
    if (o.server.basic_user.empty() || o.server.basic_password.empty()) {
      Usage("--auth basic needs --basic-user and --basic-password");
    }
    if (o.api_key || o.api_key_file) Usage("--api-key and --api-key-file need --auth key");
  } else {
    Usage("--auth: expected key or basic, got '" + o.auth + "'");
  }
  // The control endpoints have no authentication: they must never be reachable from outside.
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(o.server.address, ec);
  if (ec) Usage("--address: '" + o.server.address + "' is not an IP address");
  if (!address.is_loopback()) {
    Usage("--address: " + o.server.address +
          " is not a loopback address; the simulator's control endpoints are unauthenticated, "
          "so it listens on loopback only (127.0.0.0/8, ::1)");
  }
  if (!o.fault.empty() && !o.fault.contains("mode")) Usage("--fault-* options need --fault MODE");
  return o;
}

Result<std::string> ReadApiKeyFile(const fs::path& file) {
  auto text = facegate::ReadFile(file, 64 * 1024);
  if (!text.ok()) return text.status().WithContext("--api-key-file");
  std::string key = *text;
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.empty()) return Status::InvalidArgument("--api-key-file: " + file.string() + " is empty");
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  // A test that dies (or is killed) must not leave a simulator running behind it.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  Options o = ParseArgs(argc, argv);

  // Stdout carries the ready line only; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("ship-sim"));
  const auto level = spdlog::level::from_str(o.log_level);
  if (level == spdlog::level::off && o.log_level != "off") {
    Usage("--log-level: unknown level '" + o.log_level + "'");
  }
  spdlog::set_level(level);

  if (o.api_key) o.server.api_key = *o.api_key;
  if (o.api_key_file) o.server.api_key = OrUsage(ReadApiKeyFile(*o.api_key_file));

  std::optional<shipsim::Fault> fault;
  if (!o.fault.empty()) {
    auto parsed = shipsim::FaultFromJson(o.fault);
    if (!parsed.ok()) Usage("--fault: " + parsed.status().message());
    fault = *parsed;
  }

  shipsim::SimData data;
  if (o.data_file) {
    auto loaded = shipsim::LoadSimData(*o.data_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "facegate-ship-sim: %s\n", loaded.status().message().c_str());
      return 2;
    }
    data = std::move(loaded).value();
  }

  // Where the files go: the state directory given, or a temporary one of our own.
  std::optional<fs::path> temporary_dir;
  fs::path state_dir;
  if (o.state_dir) {
    state_dir = *o.state_dir;
    Status made = facegate::EnsureDirectory(state_dir, 0700);
    if (!made.ok()) {
      std::fprintf(stderr, "facegate-ship-sim: --state-dir: %s\n", made.message().c_str());
      return 1;
    }
  } else if (!o.pki_dir) {
    std::string pattern = (fs::temp_directory_path() / "facegate-ship-sim.XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      std::perror("facegate-ship-sim: cannot create a temporary directory");
      return 1;
    }
    temporary_dir = state_dir = pattern;
  }
  const fs::path pki_dir = fs::absolute(o.pki_dir ? *o.pki_dir : state_dir / "pki");
  auto remove_temporary = [&] {
    std::error_code ignored;
    if (temporary_dir) fs::remove_all(*temporary_dir, ignored);
  };

  const facegate::Clock& clock = facegate::SystemClock::Instance();
  auto ca = facegate::net::LocalCa::OpenOrCreate(pki_dir, clock, std::chrono::hours(24 * 3650));
  if (!ca.ok()) {
    std::fprintf(stderr, "facegate-ship-sim: CA in %s: %s\n", pki_dir.c_str(),
                 ca.status().message().c_str());
    remove_temporary();
    return 1;
  }
  facegate::net::ServerCertificateRequest request;
  request.common_name = "facegate-ship-sim";
  request.ip_addresses = {"127.0.0.1"};
  if (o.server.address != "127.0.0.1") request.ip_addresses.push_back(o.server.address);
  request.dns_names = {"localhost"};
  // Kept in the PKI dir and reused while it covers the address: a pinned fingerprint stays
  // valid from one run to the next.
  auto certificate = facegate::net::EnsureServerCertificate(**ca, pki_dir, "ship-sim", request,
                                                            clock, std::chrono::hours(24 * 30));
  if (!certificate.ok()) {
    std::fprintf(stderr, "facegate-ship-sim: server certificate: %s\n",
                 certificate.status().message().c_str());
    remove_temporary();
    return 1;
  }
  auto info = facegate::net::InspectCertificatePem(certificate->certificate_pem);
  if (!info.ok()) {
    std::fprintf(stderr, "facegate-ship-sim: server certificate: %s\n",
                 info.status().message().c_str());
    remove_temporary();
    return 1;
  }
  o.server.certificate_pem = certificate->certificate_pem;
  o.server.private_key_pem = certificate->private_key_pem;

  if (o.server.auth == shipsim::SimServerOptions::Auth::kKey && o.server.api_key.empty()) {
    spdlog::warn("no --api-key: any non-empty Salto-SHIP-Key is accepted");
  }

  shipsim::SimState state(std::move(data), clock);
  // Set before the first connection, so no request escapes the fault asked for.
  if (fault && fault->mode != shipsim::FaultMode::kDown) state.SetFault(*fault);
  shipsim::SimServer server(state, o.server);
  Status started = server.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "facegate-ship-sim: %s\n", started.message().c_str());
    remove_temporary();
    return 1;
  }

  const std::string host = o.server.address.find(':') != std::string::npos
                               ? "[" + o.server.address + "]"
                               : o.server.address;
  nlohmann::ordered_json ready = {
      {"event", "ready"},
      {"https_port", server.https_port()},
      {"stp_port", server.stp_port() ? nlohmann::ordered_json(*server.stp_port())
                                     : nlohmann::ordered_json(nullptr)},
      {"ca_file", (pki_dir / "ca.crt").string()},
      {"fingerprint", info->sha256_fingerprint_hex},
      {"control", "https://" + host + ":" + std::to_string(server.https_port()) + "/_sim"},
      {"stp_tls", server.stp_port() ? nlohmann::ordered_json(!o.server.stp_plain)
                                    : nlohmann::ordered_json(nullptr)},
      {"pid", static_cast<long>(getpid())}};
  const std::string ready_line = ready.dump();
  if (o.ready_file) {
    Status written = facegate::WriteFileAtomically(*o.ready_file, ready_line + "\n");
    if (!written.ok()) {
      std::fprintf(stderr, "facegate-ship-sim: --ready-file: %s\n", written.message().c_str());
      server.Stop();
      remove_temporary();
      return 1;
    }
  }
  std::cout << ready_line << std::endl;
  spdlog::info("ready: HTTPS on {}:{}{}, data: {} users, exits after {}s", o.server.address,
               server.https_port(),
               server.stp_port()
                   ? (o.server.stp_plain ? ", STP (plain) on port " : ", STP (TLS) on port ") +
                         std::to_string(*server.stp_port())
                   : std::string(),
               state.user_count(), o.exit_after_seconds);
  // `down` after the ready line: the ports it will come back on are known first.
  if (fault && fault->mode == shipsim::FaultMode::kDown) server.ApplyFault(*fault);

  boost::asio::io_context main_loop;
  boost::asio::signal_set signals(main_loop, SIGTERM, SIGINT);
  boost::asio::steady_timer deadline(main_loop, std::chrono::seconds(o.exit_after_seconds));
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal);
    deadline.cancel();
  });
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    spdlog::info("--exit-after {}s reached: stopping", o.exit_after_seconds);
    signals.cancel();
  });
  main_loop.run();

  server.Stop();
  remove_temporary();
  return 0;
}
