// facegate-faultproxy: a TCP proxy on loopback with faults to order, between facegated and a
// peer (docs/robustness.md). See --help.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "faultproxy/fault_proxy.h"

namespace {

constexpr const char* kHelp =
    "Usage: facegate-faultproxy --target HOST:PORT [--listen PORT] [--fault FAULT]\n"
    "                           [--control-port PORT] [--ready-file FILE]\n"
    "\n"
    "Listens on 127.0.0.1:PORT (default 0: any free port) and forwards to HOST:PORT (an IP\n"
    "address), putting a fault in the way:\n"
    "  pass             forward as it comes (default)\n"
    "  delay MS         hold each chunk MS milliseconds, both directions\n"
    "  blackhole        accept, read, answer nothing, never close (a peer that hangs)\n"
    "  truncate BYTES   cut the peer's answer after BYTES bytes, then close\n"
    "  reset            reset each connection at once (RST)\n"
    "A fault applies to the connections accepted after it is set.\n"
    "\n"
    "  --control-port PORT  a line protocol on 127.0.0.1:PORT (0: any): 'fault FAULT',\n"
    "                       'reset-all' (reset the open connections), 'counts' (JSON);\n"
    "                       each answered with one line ('ok ...' or 'error ...')\n"
    "  --ready-file FILE    written once listening: {\"port\":P,\"control_port\":C}\n"
    "Stops on SIGTERM or SIGINT. Exit status: 0 stopped, 1 cannot listen, 2 usage error.\n";

volatile std::sig_atomic_t stop_requested = 0;
void OnSignal(int) { stop_requested = 1; }

int Listen(uint16_t port, uint16_t* bound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *bound = ntohs(a.sin_port);
  return fd;
}

std::string Answer(facegate::faultproxy::FaultProxy& proxy, const std::string& line) {
  using facegate::faultproxy::ParseFault;
  if (line.rfind("fault ", 0) == 0) {
    auto f = ParseFault(line.substr(6));
    if (!f.ok()) return "error " + f.status().message();
    proxy.SetFault(*f);
    return "ok " + facegate::faultproxy::FaultName(*f);
  }
  if (line == "reset-all") {
    proxy.ResetAll();
    return "ok reset-all";
  }
  if (line == "counts") {
    const auto c = proxy.counts();
    return nlohmann::json{{"connections", c.connections},
                          {"upstream_failures", c.upstream_failures},
                          {"bytes_to_target", c.bytes_to_target},
                          {"bytes_to_client", c.bytes_to_client},
                          {"open", c.open},
                          {"fault", facegate::faultproxy::FaultName(proxy.fault())}}
        .dump();
  }
  return "error unknown command '" + line + "' (fault FAULT, reset-all, counts)";
}

// One control client at a time, one line per command.
void ServeControl(int listen_fd, facegate::faultproxy::FaultProxy& proxy) {
  while (!stop_requested) {
    const int c = ::accept(listen_fd, nullptr, nullptr);
    if (c < 0) continue;  // EINTR on a signal: the loop checks stop_requested
    std::string pending;
    char buf[512];
    for (;;) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const std::string reply = Answer(proxy, line) + "\n";
        if (::write(c, reply.data(), reply.size()) < 0) break;
      }
    }
    ::close(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, fault_text = "pass", ready_file;
  long listen_port = 0, control_port = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "facegate-faultproxy: %s needs a value (see --help)\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--target") {
      target = value();
    } else if (a == "--listen") {
      listen_port = std::strtol(value().c_str(), nullptr, 10);
    } else if (a == "--fault") {
      fault_text = value();
    } else if (a == "--control-port") {
      control_port = std::strtol(value().c_str(), nullptr, 10);
    } else if (a == "--ready-file") {
      ready_file = value();
    } else {
      std::fprintf(stderr, "facegate-faultproxy: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  const size_t colon = target.rfind(':');
  const long target_port =
      colon == std::string::npos ? -1 : std::strtol(target.substr(colon + 1).c_str(), nullptr, 10);
  if (target_port < 1 || target_port > 65535 || listen_port < 0 || listen_port > 65535 ||
      control_port > 65535) {
    std::fprintf(stderr, "facegate-faultproxy: --target HOST:PORT is required (see --help)\n");
    return 2;
  }
  auto fault = facegate::faultproxy::ParseFault(fault_text);
  if (!fault.ok()) {
    std::fprintf(stderr, "facegate-faultproxy: --fault: %s\n", fault.status().message().c_str());
    return 2;
  }
  facegate::faultproxy::FaultProxy proxy(target.substr(0, colon),
                                         static_cast<uint16_t>(target_port),
                                         static_cast<uint16_t>(listen_port));
  proxy.SetFault(*fault);
  if (auto s = proxy.Start(); !s.ok()) {
    std::fprintf(stderr, "facegate-faultproxy: %s\n", s.ToString().c_str());
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: accept() returns EINTR and the loop ends
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  int control_fd = -1;
  uint16_t control_bound = 0;
  if (control_port >= 0) {
    control_fd = Listen(static_cast<uint16_t>(control_port), &control_bound);
    if (control_fd < 0) {
      std::fprintf(stderr, "facegate-faultproxy: cannot listen on the control port: %s\n",
                   std::strerror(errno));
      return 1;
    }
  }
  if (!ready_file.empty()) {
    nlohmann::json r = {{"port", proxy.port()}};
    if (control_fd >= 0) r["control_port"] = control_bound;
    std::ofstream(ready_file + ".tmp") << r.dump() << "\n";
    std::rename((ready_file + ".tmp").c_str(), ready_file.c_str());
  }
  std::fprintf(stderr, "facegate-faultproxy: 127.0.0.1:%u -> %s, fault %s\n", proxy.port(),
               target.c_str(), facegate::faultproxy::FaultName(*fault).c_str());
  if (control_fd >= 0) {
    ServeControl(control_fd, proxy);
    ::close(control_fd);
  } else {
    while (!stop_requested) ::pause();
  }
  proxy.Stop();
  return 0;
}
