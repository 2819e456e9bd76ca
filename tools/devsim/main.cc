// facegate-devsim: N door terminals against a running facegated (docs/devsim.md). Prints a
// summary for a person and, with --json, writes the report. Exit 0 when every capture got an
// answer and no decision was a mismatch, 1 otherwise, 2 on bad usage or a run that could not
// start.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "devsim/devsim.h"
#include "facegate/core/files.h"

namespace {

using facegate::devsim::Options;
using facegate::devsim::Shape;

const char kHelp[] =
    "Usage: facegate-devsim --port N --ca FILE --captures FILE\n"
    "                       (--codes FILE | --admin-port N --token-file F --create N\n"
    "                        [--door EXT] [--name-prefix P])\n"
    "                       [--host ADDR] [--shape burst|sustained|ramp] [--terminals N]\n"
    "                       [--window-s S] [--rate R] [--duration-s S]\n"
    "                       [--ramp-step R] [--ramp-step-s S] [--p99-bound-ms MS]\n"
    "                       [--threads N] [--timeout-ms MS] [--heartbeat-s S]\n"
    "                       [--server-pid PID] [--seed N]\n"
    "                       [--json FILE] [--progress]\n"
    "\n"
    "Simulates door terminals against facegated's device listener: each commissions itself\n"
    "with one code of --codes (a JSON array of codes, or of {\"code\":..}), keeps its own key\n"
    "and client certificate, sends a heartbeat, then captures from --captures (a JSON array of\n"
    "{\"file\":JPEG, \"expect\":\"grant\"|\"deny\", \"reason\"?:..., \"label\"?:...}, files\n"
    "relative to it) in a load shape, and checks every answer against what was expected.\n"
    "\n"
    "  --host ADDR        the device listener's address (default 127.0.0.1)\n"
    "  --port N           its port\n"
    "  --ca FILE          the server's CA certificate (PEM; what terminals pin)\n"
    "  --codes FILE       commissioning codes, one per terminal; or obtain them through\n"
    "                     the admin API on --admin-port N with an operator's token from\n"
    "                     --token-file F: --create N devices P-1..P-N (--name-prefix P,\n"
    "                     default devsim) at door --door EXT; existing ones get a new code\n"
    "  --terminals N      use the first N codes (default: all)\n"
    "  --shape burst      each terminal sends one capture at a random moment of the window\n"
    "  --window-s S       the burst window (default 10)\n"
    "  --shape sustained  --rate R captures a second for --duration-s S (default 10/s, 60 s)\n"
    "  --shape ramp       from --rate R, + --ramp-step every --ramp-step-s S (default 10, 10)\n"
    "                     until the step's p99 passes --p99-bound-ms (default 2000) or over 1%\n"
    "                     fail; the report names the knee (the last rate within the bound)\n"
    "  --threads N        I/O threads (default 2)\n"
    "  --timeout-ms MS    per call, connect to answer (default 5000)\n"
    "  --heartbeat-s S    each terminal's heartbeat period during the run (default 30)\n"
    "  --server-pid PID   read the server's CPU and peak RSS from /proc/PID during the run\n"
    "  --seed N           the random choices (capture order, burst moments; default 1)\n"
    "  --json FILE        write the report (JSON) to FILE ('-': stdout)\n"
    "  --progress         progress on stderr\n"
    "  -h, --help         this text\n";

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "facegate-devsim: %s (see --help)\n", why.c_str());
  std::exit(2);
}

double Number(const std::string& flag, const std::string& text, double min, double max) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || v < min || v > max) {
    Usage(flag + ": expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
          ", got '" + text + "'");
  }
  return v;
}

int RunAndReport(const Options& o, const std::vector<facegate::devsim::Capture>& captures,
                 const std::string& json_file);

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string ca_file, codes_file, captures_file, json_file, token_file;
  int terminals = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    auto ms = [&](double seconds) {
      return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      o.port = static_cast<uint16_t>(Number(a, value(), 1, 65535));
    } else if (a == "--ca") {
      ca_file = value();
    } else if (a == "--codes") {
      codes_file = value();
    } else if (a == "--admin-port") {
      o.admin_port = static_cast<uint16_t>(Number(a, value(), 1, 65535));
    } else if (a == "--token-file") {
      token_file = value();
    } else if (a == "--door") {
      o.door = value();
    } else if (a == "--create") {
      o.create_terminals = static_cast<int>(Number(a, value(), 1, 100000));
    } else if (a == "--name-prefix") {
      o.name_prefix = value();
      if (o.name_prefix.empty()) Usage("--name-prefix must not be empty");
    } else if (a == "--captures") {
      captures_file = value();
    } else if (a == "--terminals") {
      terminals = static_cast<int>(Number(a, value(), 1, 100000));
    } else if (a == "--shape") {
      const std::string s = value();
      if (s == "burst") {
        o.shape = Shape::kBurst;
      } else if (s == "sustained") {
        o.shape = Shape::kSustained;
      } else if (s == "ramp") {
        o.shape = Shape::kRamp;
      } else {
        Usage("--shape: expected burst, sustained or ramp");
      }
    } else if (a == "--window-s") {
      o.window = ms(Number(a, value(), 0.001, 86400));
    } else if (a == "--rate") {
      o.rate = Number(a, value(), 0.01, 100000);
    } else if (a == "--duration-s") {
      o.duration = ms(Number(a, value(), 0.001, 86400));
    } else if (a == "--ramp-step") {
      o.ramp_step = Number(a, value(), 0.01, 100000);
    } else if (a == "--ramp-step-s") {
      o.ramp_step_time = ms(Number(a, value(), 0.1, 3600));
    } else if (a == "--p99-bound-ms") {
      o.p99_bound_ms = Number(a, value(), 1, 600000);
    } else if (a == "--heartbeat-s") {
      o.heartbeat_interval = ms(Number(a, value(), 0.1, 86400));
    } else if (a == "--threads") {
      o.threads = static_cast<int>(Number(a, value(), 1, 256));
    } else if (a == "--timeout-ms") {
      o.timeout = std::chrono::milliseconds(static_cast<int64_t>(Number(a, value(), 1, 600000)));
    } else if (a == "--server-pid") {
      o.server_pid = static_cast<int>(Number(a, value(), 1, 1e9));
    } else if (a == "--seed") {
      o.seed = static_cast<uint64_t>(Number(a, value(), 0, 1e18));
    } else if (a == "--json") {
      json_file = value();
    } else if (a == "--progress") {
      o.progress = true;
    } else {
      Usage("unknown argument '" + a + "'");
    }
  }
  if (o.port == 0) Usage("--port is required");
  if (ca_file.empty() || captures_file.empty()) Usage("--ca and --captures are required");
  if (codes_file.empty() == (o.admin_port == 0)) {
    Usage("give either --codes or --admin-port (with --token-file and --create)");
  }
  auto ca = facegate::ReadFile(ca_file);
  if (!ca.ok()) Usage(ca.status().ToString());
  o.ca_pem = *ca;
  if (o.admin_port != 0) {
    if (token_file.empty() || o.create_terminals < 1) {
      Usage("--admin-port needs --token-file and --create N");
    }
    auto token = facegate::ReadFile(token_file);
    if (!token.ok()) Usage(token.status().ToString());
    o.admin_token = *token;
    while (!o.admin_token.empty() &&
           std::isspace(static_cast<unsigned char>(o.admin_token.back()))) {
      o.admin_token.pop_back();
    }
    if (o.admin_token.empty()) Usage(token_file + " is empty");
  }
  auto captures = facegate::devsim::LoadCaptures(captures_file);
  if (!captures.ok()) Usage(captures.status().ToString());
  if (o.admin_port != 0) return RunAndReport(o, *captures, json_file);
  auto codes_text = facegate::ReadFile(codes_file);
  if (!codes_text.ok()) Usage(codes_text.status().ToString());
  auto codes = nlohmann::json::parse(*codes_text, nullptr, false);
  if (!codes.is_array()) Usage(codes_file + ": expected a JSON array of codes");
  for (const auto& c : codes) {
    if (c.is_string()) {
      o.codes.push_back(c.get<std::string>());
    } else if (c.is_object() && c.contains("code") && c["code"].is_string()) {
      o.codes.push_back(c["code"].get<std::string>());
    } else {
      Usage(codes_file + ": expected codes (strings or {\"code\": ...})");
    }
  }
  if (terminals > 0) {
    if (static_cast<size_t>(terminals) > o.codes.size()) {
      Usage("--terminals " + std::to_string(terminals) + " but " + codes_file + " holds " +
            std::to_string(o.codes.size()) + " codes");
    }
    o.codes.resize(static_cast<size_t>(terminals));
  }
  return RunAndReport(o, *captures, json_file);
}

namespace {

int RunAndReport(const Options& o, const std::vector<facegate::devsim::Capture>& captures,
                 const std::string& json_file) {
  auto report = facegate::devsim::Run(o, captures);
  if (!report.ok()) {
    std::fprintf(stderr, "facegate-devsim: %s\n", report.status().ToString().c_str());
    return 2;
  }
  std::fputs(facegate::devsim::Summary(*report).c_str(), json_file == "-" ? stderr : stdout);
  if (json_file == "-") {
    std::cout << report->dump(2) << "\n";
  } else if (!json_file.empty()) {
    std::ofstream(json_file) << report->dump(2) << "\n";
  }
  // A 503 is an answer (the server shedding load on purpose); a call without one is not.
  const bool clean = report->value("mismatches", 1) == 0 &&
                     report->value("answered", 0) == report->value("requests", -1);
  return clean ? 0 : 1;
}

}  // namespace
