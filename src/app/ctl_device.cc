// `facegatectl device ...`: door terminals, on the daemon's host, as the daemon's user, by
// writing the store directly (until the admin API exists). A device is created with a
// one-time commissioning code that the terminal redeems at POST /api/v1/commission
// (docs/device-api.md); the code is made here exactly as the admin API will make it
// (api::IssueCommissioningCode, keyed with the daemon's own commissioning secret), so the
// running facegated accepts it without being told.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl_common.h"
#include "facegate/api/device_api.h"
#include "facegate/core/files.h"
#include "facegate/core/time_format.h"
#include "facegate/net/pki.h"
#include "facegate/store/store.h"

namespace facegate::app {
namespace {

using ctl::Args;
using ctl::kFailure;
using ctl::kHelpShown;
using ctl::kOk;
using ctl::kUsage;
using json = nlohmann::json;

#define FG_COMMON_OPTIONS                                                                  \
  "  --config FILE   facegated configuration file (default /etc/facegate/facegate.json)\n" \
  "  --json          one JSON document on stdout\n"                                        \
  "  -h, --help      show this help\n"

constexpr const char* kDeviceHelp =
    "Usage: facegatectl device COMMAND [ARGS] [--config FILE] [--json]\n"
    "\n"
    "Door terminals, on this host's store (run as the daemon's user).\n"
    "\n"
    "Commands:\n"
    "  create NAME [--door EXT]     add a device and print its commissioning code\n"
    "  code NAME                    a new commissioning code (the earlier one stops working)\n"
    "  list                         every device: status, online, certificate\n"
    "  set-door NAME EXT|--none     the door the device serves\n"
    "  disable NAME                 refuse the device (403) until it is enabled\n"
    "  enable NAME                  accept it again\n"
    "  decommission NAME            revoke its certificates (needs a new code to come back)\n"
    "  command NAME COMMAND         queue a command for its next heartbeat\n"
    "\n"
    "Run 'facegatectl device COMMAND --help' for a command's options.\n";

constexpr const char* kCreateHelp =
    "Usage: facegatectl device create NAME [--door EXT] [--config FILE] [--json]\n"
    "\n"
    "Adds a device and issues its one-time commissioning code: printed once, with its expiry\n"
    "(devices.commissioning_code_ttl_s) and the JSON payload a console shows as a QR code\n"
    "(server address, port, CA fingerprint, code). The server address is the first of\n"
    "tls.server_addresses, else the device listener's address; the port is the device\n"
    "listener's. Only the code's keyed hash is stored.\n"
    "\n"
    "Options:\n"
    "  --door EXT      the door it serves (external id); without it, set it "
    "later\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 created, 1 a device of that name exists, the door is unknown, or the\n"
    "data directory lacks the commissioning secret or the CA (run facegated --init), 2 usage\n"
    "error.\n";

constexpr const char* kCodeHelp =
    "Usage: facegatectl device code NAME [--config FILE] [--json]\n"
    "\n"
    "Issues a new commissioning code for the device (to commission it again, or when the\n"
    "earlier code expired). Its earlier unused codes stop working at once. Commissioning\n"
    "again replaces the device's certificate.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 issued, 1 no such device (or no secret or CA), 2 usage error.\n";

constexpr const char* kListHelp =
    "Usage: facegatectl device list [--config FILE] [--json]\n"
    "\n"
    "Every device: name, door, status (created, commissioned, disabled, decommissioned),\n"
    "online, last seen, firmware, and its latest certificate's serial and expiry.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 the store could not be read, 2 usage error.\n";

constexpr const char* kSetDoorHelp =
    "Usage: facegatectl device set-door NAME EXT [--config FILE] [--json]\n"
    "       facegatectl device set-door NAME --none [--config FILE] [--json]\n"
    "\n"
    "Sets the door the device serves (its captures are decided for that door), or none\n"
    "(its captures are then denied).\n"
    "\n"
    "Options:\n"
    "  --none          the device serves no door\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 set, 1 no such device or door, 2 usage error.\n";

constexpr const char* kDisableHelp =
    "Usage: facegatectl device disable NAME [--config FILE] [--json]\n"
    "       facegatectl device enable NAME [--config FILE] [--json]\n"
    "\n"
    "disable: every call of the device is refused (403 device_disabled), its commissioning\n"
    "codes too, until it is enabled. enable: back to commissioned (it holds a current\n"
    "certificate), created (it never had one) or decommissioned (its certificates were\n"
    "revoked).\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 done, 1 no such device, 2 usage error.\n";

constexpr const char* kDecommissionHelp =
    "Usage: facegatectl device decommission NAME [--yes] [--config FILE] [--json]\n"
    "\n"
    "Revokes every certificate of the device (its calls are then refused: 403\n"
    "certificate_revoked). To bring it back, issue a new code (facegatectl device code) and\n"
    "commission it again.\n"
    "\n"
    "Options:\n"
    "  --yes           proceed without asking (required when stdin is not a "
    "terminal)\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 decommissioned, 1 no such device, 2 usage error or --yes missing.\n";

constexpr const char* kCommandHelp =
    "Usage: facegatectl device command NAME COMMAND [--payload JSON] [--expires-in SECONDS]\n"
    "                                  [--config FILE] [--json]\n"
    "\n"
    "Queues COMMAND (e.g. reboot, config) for the device: it is handed out once, in the\n"
    "answer to its next heartbeat or access request. Origin: facegatectl.\n"
    "\n"
    "Options:\n"
    "  --payload JSON        the command's payload, a JSON value (default {})\n"
    "  --expires-in SECONDS  not handed out after this long (default: never "
    "expires)\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 queued, 1 no such device or the store refused the command, 2 usage\n"
    "error.\n";

struct Command {
  std::string prog;
  Args args;
};

int Parse(int argc, char** argv, std::string prog, const char* help,
          std::initializer_list<std::string_view> flags,
          std::initializer_list<std::string_view> valued, size_t min_positional,
          size_t max_positional, std::string_view missing, Command* out) {
  out->prog = std::move(prog);
  int rc = ctl::ParseArgs(argc, argv, out->prog, help, flags, valued, &out->args);
  if (rc != kOk) return rc;
  if (!ctl::ExpectPositional(out->args, min_positional, max_positional, out->prog, missing, help)) {
    return kUsage;
  }
  return kOk;
}

int Done(int rc) { return rc == kHelpShown ? kOk : rc; }

void PrintJson(const json& j) { std::printf("%s\n", j.dump(2).c_str()); }

json TimeJson(const std::optional<Clock::WallTime>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

std::string DoorName(store::Store& s, const std::optional<int64_t>& door_id) {
  if (!door_id) return "-";
  auto d = s.GetDoor(*door_id);
  return d.ok() ? d->external_id : "#" + std::to_string(*door_id);
}

json DeviceJson(store::Store& s, const store::Device& d) {
  return {{"id", d.id},
          {"name", d.name},
          {"door", d.door_id ? json(DoorName(s, d.door_id)) : json(nullptr)},
          {"status", store::DeviceStatusName(d.status)},
          {"online", d.online},
          {"last_seen_at", TimeJson(d.last_seen_at)},
          {"firmware", d.firmware},
          {"cert_serial", d.cert_serial ? json(*d.cert_serial) : json(nullptr)},
          {"cert_not_after", TimeJson(d.cert_not_after)},
          {"cert_revoked", d.cert_revoked},
          {"created_at", FormatRfc3339(d.created_at)},
          {"updated_at", FormatRfc3339(d.updated_at)}};
}

// Where terminals reach the server, as the QR payload tells them.
struct ServerEndpoint {
  std::string address;
  uint16_t port = 0;
  std::string ca_sha256;
};

// The listener's configured port, or (port 0: picked at start, as in tests) the one the
// running daemon wrote to its ports file.
uint16_t DevicePort(const daemon::DaemonOptions& o) {
  if (o.device.port != 0 || o.server.ports_file.empty()) return o.device.port;
  auto text = ReadFile(o.server.ports_file, 1 << 16);
  if (!text.ok()) return 0;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("ports") || !j["ports"].is_object()) return 0;
  return j["ports"].value("device", static_cast<uint16_t>(0));
}

// Everything a code needs besides the store, read before anything is written: a data
// directory without a secret or a CA fails before a device is created.
struct CodeContext {
  std::string secret;
  ServerEndpoint endpoint;
  int ttl_s = 0;
};

Result<CodeContext> LoadCodeContext(const daemon::DaemonOptions& o, const std::string& prog) {
  CodeContext c;
  const std::filesystem::path pki = o.data_dir / "pki";
  auto secret = api::LoadCommissioningSecret(pki / "commissioning.secret", /*create=*/false);
  if (!secret.ok()) return secret.status();
  c.secret = std::move(secret).value();
  auto ca_pem = ReadFile(pki / "ca.crt", 1 << 20);
  if (!ca_pem.ok()) {
    return ca_pem.status().WithContext(
        "the local CA (run 'facegated --init' as the daemon's user)");
  }
  auto ca = net::InspectCertificatePem(*ca_pem);
  if (!ca.ok()) return ca.status().WithContext((pki / "ca.crt").string());
  c.endpoint.ca_sha256 = ca->sha256_fingerprint_hex;
  c.endpoint.address =
      o.tls.server_addresses.empty() ? o.device.address : o.tls.server_addresses.front();
  c.endpoint.port = DevicePort(o);
  c.ttl_s = o.devices.commissioning_code_ttl_s;
  // Warnings, not errors: the code itself is still good to type in by hand.
  if (c.endpoint.address == "0.0.0.0" || c.endpoint.address == "::") {
    std::fprintf(stderr,
                 "%s: warning: the device listener listens on all addresses (%s) and "
                 "tls.server_addresses is empty, so the QR payload names no address a terminal "
                 "can reach: set tls.server_addresses in %s\n",
                 prog.c_str(), c.endpoint.address.c_str(), o.config_file.string().c_str());
  }
  if (c.endpoint.port == 0) {
    std::fprintf(stderr,
                 "%s: warning: listeners.device.port is 0 (picked at start) and no running "
                 "facegated says which: the QR payload's port is 0\n",
                 prog.c_str());
  }
  if (!o.device.enabled) {
    std::fprintf(stderr, "%s: warning: the device listener is disabled in %s\n", prog.c_str(),
                 o.config_file.string().c_str());
  }
  return c;
}

int PrintCode(const Command& c, store::Store& s, const store::Device& d,
              const api::IssuedCommissioningCode& code, bool created) {
  json qr = json::parse(code.qr_payload, nullptr, false);
  if (c.args.json) {
    PrintJson({{"device", DeviceJson(s, d)},
               {"code", code.code},
               {"expires_at", FormatRfc3339(code.expires_at)},
               {"qr_payload", qr}});
    return kOk;
  }
  if (created) {
    std::printf("device %s created (id %lld), door %s\n", d.name.c_str(),
                static_cast<long long>(d.id), DoorName(s, d.door_id).c_str());
  }
  std::printf("commissioning code: %s (single use, expires %s)\n", code.code.c_str(),
              FormatRfc3339(code.expires_at).c_str());
  std::printf("QR payload: %s\n", code.qr_payload.c_str());
  return kOk;
}

int Create(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl device create", kCreateHelp, {}, {"--door"}, 1, 1,
                 "no device name given", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto ctx = LoadCodeContext(session->options, c.prog);
  if (!ctx.ok()) return ctl::Fail(c.prog, ctx.status());
  store::NewDevice nd;
  nd.name = c.args.positional[0];
  if (auto door = c.args.Value("--door")) {
    auto d = ctl::FindDoor(s, *door);
    if (!d.ok()) return ctl::Fail(c.prog, d.status());
    nd.door_id = d->id;
  }
  auto id = s.AddDevice(nd);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  auto code = api::IssueCommissioningCode(s, ctx->secret, *id, ctx->ttl_s, SystemClock::Instance(),
                                          ctx->endpoint.address, ctx->endpoint.port,
                                          ctx->endpoint.ca_sha256);
  if (!code.ok()) {
    return ctl::Fail(c.prog, code.status().WithContext(
                                 "device " + nd.name +
                                 " was created but has no code yet; run 'facegatectl device "
                                 "code " +
                                 nd.name + "'"));
  }
  auto d = s.GetDevice(*id);
  if (!d.ok()) return ctl::Fail(c.prog, d.status());
  return PrintCode(c, s, *d, *code, true);
}

int Code(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl device code", kCodeHelp, {}, {}, 1, 1,
                 "no device name given", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto d = s.FindDeviceByName(c.args.positional[0]);
  if (!d.ok()) return ctl::Fail(c.prog, d.status());
  auto ctx = LoadCodeContext(session->options, c.prog);
  if (!ctx.ok()) return ctl::Fail(c.prog, ctx.status());
  if (d->status == store::DeviceStatus::kDisabled) {
    std::fprintf(stderr,
                 "%s: warning: device %s is disabled: the code is refused until 'facegatectl "
                 "device enable %s'\n",
                 c.prog.c_str(), d->name.c_str(), d->name.c_str());
  }
  auto code = api::IssueCommissioningCode(s, ctx->secret, d->id, ctx->ttl_s,
                                          SystemClock::Instance(), ctx->endpoint.address,
                                          ctx->endpoint.port, ctx->endpoint.ca_sha256);
  if (!code.ok()) return ctl::Fail(c.prog, code.status());
  return PrintCode(c, s, *d, *code, false);
}

Result<std::vector<store::Device>> AllDevices(store::Store& s) {
  std::vector<store::Device> all;
  int64_t after = 0;
  for (;;) {
    auto page = s.ListDevices(after, 500);
    if (!page.ok()) return page.status();
    if (page->empty()) return all;
    after = page->back().id;
    for (auto& d : *page) all.push_back(std::move(d));
  }
}

int List(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl device list", kListHelp, {}, {}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto devices = AllDevices(s);
  if (!devices.ok()) return ctl::Fail(c.prog, devices.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : *devices) {
    out.push_back(DeviceJson(s, d));
    std::string cert = d.cert_serial.value_or("-");
    if (d.cert_serial && d.cert_revoked) cert += " (revoked)";
    rows.push_back({std::to_string(d.id), d.name, DoorName(s, d.door_id),
                    std::string(store::DeviceStatusName(d.status)), d.online ? "yes" : "no",
                    ctl::TimeText(d.last_seen_at, "never"), d.firmware.empty() ? "-" : d.firmware,
                    cert, ctl::TimeText(d.cert_not_after)});
  }
  if (c.args.json) {
    PrintJson({{"devices", out}});
  } else {
    ctl::PrintTable({"ID", "NAME", "DOOR", "STATUS", "ONLINE", "LAST_SEEN", "FIRMWARE",
                     "CERT_SERIAL", "CERT_EXPIRES"},
                    rows);
  }
  return kOk;
}

int SetDoor(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl device set-door", kSetDoorHelp, {"--none"}, {}, 1, 2,
                 "expected NAME and a door (or --none)", &c);
  if (rc != kOk) return Done(rc);
  const bool none = c.args.Has("--none");
  if (none == (c.args.positional.size() == 2)) {
    return ctl::UsageError(c.prog, "give either a door's external id or --none", kSetDoorHelp);
  }
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto d = s.FindDeviceByName(c.args.positional[0]);
  if (!d.ok()) return ctl::Fail(c.prog, d.status());
  std::optional<int64_t> door_id;
  if (!none) {
    auto door = ctl::FindDoor(s, c.args.positional[1]);
    if (!door.ok()) return ctl::Fail(c.prog, door.status());
    door_id = door->id;
  }
  Status st = s.SetDeviceDoor(d->id, door_id);
  if (!st.ok()) return ctl::Fail(c.prog, st);
  if (c.args.json) {
    PrintJson({{"device", d->name}, {"door", none ? json(nullptr) : json(c.args.positional[1])}});
  } else {
    std::printf("device %s now serves %s\n", d->name.c_str(),
                none ? "no door" : ("door " + c.args.positional[1]).c_str());
  }
  return kOk;
}

int SetEnabled(int argc, char** argv, bool enable) {
  Command c;
  int rc = Parse(argc, argv, enable ? "facegatectl device enable" : "facegatectl device disable",
                 kDisableHelp, {}, {}, 1, 1, "no device name given", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto d = s.FindDeviceByName(c.args.positional[0]);
  if (!d.ok()) return ctl::Fail(c.prog, d.status());
  store::DeviceStatus status = store::DeviceStatus::kDisabled;
  if (enable) {
    // Back to what its certificates say: the store keeps no "status before disabling".
    if (!d->cert_serial) {
      status = store::DeviceStatus::kCreated;
    } else if (d->cert_revoked) {
      status = store::DeviceStatus::kDecommissioned;
    } else {
      status = store::DeviceStatus::kCommissioned;
    }
  }
  if (enable && d->status != store::DeviceStatus::kDisabled) status = d->status;
  Status st = s.SetDeviceStatus(d->id, status);
  if (!st.ok()) return ctl::Fail(c.prog, st);
  const std::string name(store::DeviceStatusName(status));
  if (c.args.json) {
    PrintJson({{"device", d->name}, {"status", name}});
  } else {
    std::printf("device %s %s (status %s)\n", d->name.c_str(),
                enable
                    ? (d->status == store::DeviceStatus::kDisabled ? "enabled" : "was not disabled")
                    : "disabled",
                name.c_str());
  }
  return kOk;
}

int Disable(int argc, char** argv) { return SetEnabled(argc, argv, false); }
int Enable(int argc, char** argv) { return SetEnabled(argc, argv, true); }

int Decommission(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl device decommission", kDecommissionHelp, {"--yes"}, {}, 1,
                 1, "no device name given", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto d = s.FindDeviceByName(c.args.positional[0]);
  if (!d.ok()) return ctl::Fail(c.prog, d.status());
  if (int r = ctl::Confirm(c.prog,
                           "revoke every certificate of device " + d->name +
                               " (it is refused until commissioned again with a new code)",
                           c.args.Has("--yes"));
      r != kOk) {
    return r;
  }
  auto revoked = s.RevokeDeviceCertificates(d->id);
  if (!revoked.ok()) return ctl::Fail(c.prog, revoked.status());
  if (c.args.json) {
    PrintJson(
        {{"device", d->name}, {"certificates_revoked", *revoked}, {"status", "decommissioned"}});
  } else {
    std::printf("device %s decommissioned: %d certificate(s) revoked\n", d->name.c_str(), *revoked);
  }
  return kOk;
}

int QueueCommand(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl device command", kCommandHelp, {},
                 {"--payload", "--expires-in"}, 2, 2, "expected NAME and COMMAND", &c);
  if (rc != kOk) return Done(rc);
  store::NewDeviceCommand cmd;
  cmd.command = c.args.positional[1];
  cmd.origin = "facegatectl";
  if (auto p = c.args.Value("--payload")) {
    json j = json::parse(*p, nullptr, false);
    if (j.is_discarded()) {
      return ctl::UsageError(c.prog, "--payload: not JSON: " + *p, kCommandHelp);
    }
    cmd.payload_json = j.dump();
  }
  std::optional<int64_t> expires_in;
  if (auto v = c.args.Value("--expires-in")) {
    expires_in = ctl::ParseInt(*v, 1, int64_t{10} * 365 * 24 * 3600);
    if (!expires_in) {
      return ctl::UsageError(
          c.prog, "--expires-in: expected a positive number of seconds, got '" + *v + "'",
          kCommandHelp);
    }
  }
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto d = s.FindDeviceByName(c.args.positional[0]);
  if (!d.ok()) return ctl::Fail(c.prog, d.status());
  cmd.device_id = d->id;
  if (expires_in)
    cmd.expires_at = SystemClock::Instance().Now() + std::chrono::seconds(*expires_in);
  auto id = s.QueueDeviceCommand(cmd);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  if (c.args.json) {
    PrintJson({{"id", *id},
               {"device", d->name},
               {"command", cmd.command},
               {"payload", json::parse(cmd.payload_json)},
               {"expires_at", TimeJson(cmd.expires_at)}});
  } else {
    std::printf("command %lld (%s) queued for device %s%s%s\n", static_cast<long long>(*id),
                cmd.command.c_str(), d->name.c_str(), cmd.expires_at ? ", expires " : "",
                cmd.expires_at ? FormatRfc3339(*cmd.expires_at).c_str() : "");
  }
  return kOk;
}

}  // namespace

// argv[0] is the first argument after "device".
int RunDeviceCommand(int argc, char** argv) {
  const std::string cmd = argc > 0 ? argv[0] : "";
  struct Sub {
    const char* name;
    int (*run)(int, char**);
  };
  static constexpr Sub kSubs[] = {{"create", Create},
                                  {"code", Code},
                                  {"list", List},
                                  {"set-door", SetDoor},
                                  {"disable", Disable},
                                  {"enable", Enable},
                                  {"decommission", Decommission},
                                  {"command", QueueCommand}};
  for (const auto& s : kSubs) {
    if (cmd == s.name) return s.run(argc - 1, argv + 1);
  }
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(kDeviceHelp, stdout);
    return kOk;
  }
  if (cmd.empty()) {
    std::fputs(kDeviceHelp, stderr);
  } else {
    std::fprintf(stderr, "facegatectl device: unknown command '%s'\n\n%s", cmd.c_str(),
                 kDeviceHelp);
  }
  return kUsage;
}

}  // namespace facegate::app
