// `facegatectl device ...`: door terminals, through the admin API of a running facegated
// (docs/admin-api.md; an operator token changes them, a viewer token lists them). A device is
// created with a one-time commissioning code that the terminal redeems at POST
// /api/v1/commission (docs/device-api.md); the daemon issues it, with the QR payload naming
// the device listener it actually listens on and its CA's fingerprint.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl_api_command.h"
#include "ctl_common.h"
#include "facegate/core/time_format.h"

namespace facegate::app {
namespace {

using ctl::ApiCommand;
using ctl::kOk;
using ctl::kUsage;
using ctl::PrintJson;
using ctl::Quoted;
using ctl::Str;
using ctl::UrlEncode;
using json = nlohmann::json;

#define FG_CONN "[--json] [--url URL] [--token-file FILE] [--ca FILE]"

constexpr const char* kDeviceHelp =
    "Usage: facegatectl device COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "Door terminals, through the admin API of a running facegated.\n"
    "\n"
    "Commands:\n"
    "  create NAME [--door EXT]     add a device and print its commissioning code\n"
    "  code NAME                    a new commissioning code (the earlier one stops working)\n"
    "  list                         every device: status, online, last seen, certificate\n"
    "  set-door NAME EXT|--none     the door the device serves\n"
    "  disable NAME                 refuse the device (403) until it is enabled\n"
    "  enable NAME                  accept it again\n"
    "  decommission NAME            revoke its certificates (needs a new code to come back)\n"
    "  command NAME COMMAND         queue a command for its next heartbeat\n"
    "  delete NAME                  forget the device (its events stay)\n"
    "\n"
    "Run 'facegatectl device COMMAND --help' for a command's options.\n";

constexpr const char* kCreateHelp =
    "Usage: facegatectl device create NAME [--door EXT] " FG_CONN
    "\n"
    "\n"
    "Adds a device (POST /api/v1/devices) and prints its one-time commissioning code, once,\n"
    "with its expiry (devices.commissioning_code_ttl_s) and the JSON payload a console shows\n"
    "as a QR code (server address, port, CA fingerprint, code). NAME is 1-64 letters,\n"
    "digits, '-', '_' and '.'. Only the code's keyed hash is stored.\n"
    "\n"
    "Options:\n"
    "  --door EXT        the door it serves (external id); without it, set it "
    "later\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 created, 1 refused (bad name, unknown door) or failed, 2 usage "
    "error,\n" FG_API_EXIT "6 a device of that name exists.\n";

constexpr const char* kCodeHelp =
    "Usage: facegatectl device code NAME " FG_CONN
    "\n"
    "\n"
    "Issues a new commissioning code for the device (to commission it again, or when the\n"
    "earlier code expired): POST /api/v1/devices/NAME/code. Its earlier unused codes stop\n"
    "working at once. Commissioning again replaces the device's certificate.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 issued, 1 failed, 2 usage error, " FG_API_EXIT
    "5 no such device, 6 the\ndevice is disabled (enable it first).\n";

constexpr const char* kListHelp =
    "Usage: facegatectl device list " FG_CONN
    "\n"
    "\n"
    "Every device: name, door, status (created, commissioned, disabled, decommissioned),\n"
    "online, last seen, firmware, and its latest certificate's serial and expiry.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kSetDoorHelp =
    "Usage: facegatectl device set-door NAME EXT " FG_CONN
    "\n"
    "       facegatectl device set-door NAME --none " FG_CONN
    "\n"
    "\n"
    "Sets the door the device serves (its captures are decided for that door), or none\n"
    "(its captures are then denied).\n"
    "\n"
    "Options:\n"
    "  --none            the device serves no door\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 set, 1 an unknown door or another refusal, 2 usage error,\n" FG_API_EXIT
    "5 no such device.\n";

constexpr const char* kDisableHelp =
    "Usage: facegatectl device disable NAME " FG_CONN
    "\n"
    "       facegatectl device enable NAME " FG_CONN
    "\n"
    "\n"
    "disable: every call of the device is refused (403 device_disabled), its commissioning\n"
    "codes too, until it is enabled. enable: back to commissioned (it holds a current\n"
    "certificate), created (it never had one) or decommissioned (its certificates were\n"
    "revoked). Prints the device as the daemon now has it.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 done, 1 failed, 2 usage error, " FG_API_EXIT "5 no such device.\n";

constexpr const char* kDecommissionHelp =
    "Usage: facegatectl device decommission NAME [--yes] " FG_CONN
    "\n"
    "\n"
    "Revokes every certificate of the device (its calls are then refused: 403\n"
    "certificate_revoked). To bring it back, issue a new code (facegatectl device code) and\n"
    "commission it again.\n"
    "\n"
    "Options:\n"
    "  --yes             proceed without asking (required when stdin is not a "
    "terminal)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 decommissioned, 1 failed, 2 usage error or --yes missing,\n" FG_API_EXIT
    "5 no such device.\n";

constexpr const char* kCommandHelp =
    "Usage: facegatectl device command NAME COMMAND [--payload JSON] [--expires-in SECONDS]\n"
    "                                  " FG_CONN
    "\n"
    "\n"
    "Queues COMMAND for the device: it is handed out once, in the answer to its next\n"
    "heartbeat or access request. COMMAND is one of reboot, recommission, decommission,\n"
    "config, open, update, identify, sync_time (docs/device-api.md). Origin: admin:<the\n"
    "token's name>.\n"
    "\n"
    "Options:\n"
    "  --payload JSON        the command's payload, a JSON value (default {})\n"
    "  --expires-in SECONDS  not handed out after this long (default: never "
    "expires)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 queued, 1 an unknown command or another refusal, 2 usage error,\n" FG_API_EXIT
    "5 no such device.\n";

constexpr const char* kDeleteHelp =
    "Usage: facegatectl device delete NAME [--yes] " FG_CONN
    "\n"
    "\n"
    "Deletes the device record (DELETE /api/v1/devices/NAME); its access events stay.\n"
    "Decommission it first if it still holds a valid certificate.\n"
    "\n"
    "Options:\n"
    "  --yes             proceed without asking (required when stdin is not a "
    "terminal)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 deleted, 1 failed, 2 usage error or --yes missing, " FG_API_EXIT
    "5 no such\ndevice.\n";

std::string DevicePath(const std::string& name) { return "/api/v1/devices/" + UrlEncode(name); }

// The device as the daemon answers it, with the certificate also as flat members (cert_serial,
// cert_not_after, cert_revoked) for scripts.
json DeviceOut(json d) {
  const json cert = d.value("certificate", json());
  d["cert_serial"] = cert.is_object() ? cert.value("serial", json()) : json();
  d["cert_not_after"] = cert.is_object() ? cert.value("not_after", json()) : json();
  d["cert_revoked"] = cert.is_object() ? cert.value("revoked", false) : false;
  return d;
}

void PrintCode(const json& code) {
  std::printf("commissioning code: %s (single use, expires %s)\n", Str(code, "code").c_str(),
              Str(code, "expires_at").c_str());
  std::printf("QR payload: %s\n", code.value("qr_payload", json::object()).dump().c_str());
}

int Create(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl device create", kCreateHelp, {}, {"--door"}, 1, 1,
                   "no device name given");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  json body = {{"name", c.args.positional[0]}};
  if (auto door = c.args.Value("--door")) body["door"] = *door;
  auto r = c.Send("POST", "/api/v1/devices", body);
  if (!r) return c.rc;
  json device = DeviceOut(r->value("device", json::object()));
  device["door"] = body.value("door", json());
  const json code = r->value("commissioning", json::object());
  if (c.args.json) {
    PrintJson({{"device", device},
               {"code", code.value("code", json())},
               {"expires_at", code.value("expires_at", json())},
               {"qr_payload", code.value("qr_payload", json())}});
    return kOk;
  }
  std::printf("device %s created (id %lld), door %s\n", Str(device, "name").c_str(),
              static_cast<long long>(device.value("id", int64_t{0})), Str(device, "door").c_str());
  PrintCode(code);
  return kOk;
}

int Code(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl device code", kCodeHelp, {}, {}, 1, 1,
                   "no device name given");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  auto code = c.Send("POST", DevicePath(c.args.positional[0]) + "/code", json::object());
  if (!code) return c.rc;
  if (c.args.json) {
    PrintJson(*code);
  } else {
    PrintCode(*code);
  }
  return kOk;
}

int List(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl device list", kListHelp, {}, {}, 0, 0, "");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  auto devices = c.GetAll("/api/v1/devices");
  if (!devices) return c.rc;
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& raw : *devices) {
    json d = DeviceOut(raw);
    std::string cert = Str(d, "cert_serial");
    if (d["cert_serial"].is_string() && d.value("cert_revoked", false)) cert += " (revoked)";
    rows.push_back({std::to_string(d.value("id", int64_t{0})), Str(d, "name"), Str(d, "door"),
                    Str(d, "status"), d.value("online", false) ? "yes" : "no",
                    Str(d, "last_seen_at", "never"), Str(d, "firmware"), cert,
                    Str(d, "cert_not_after")});
    out.push_back(std::move(d));
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
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl device set-door", kSetDoorHelp, {"--none"}, {}, 1, 2,
                   "expected NAME and a door (or --none)");
  if (rc != kOk) return ApiCommand::Done(rc);
  const bool none = c.args.Has("--none");
  if (none == (c.args.positional.size() == 2)) {
    return ctl::UsageError(c.prog, "give either a door's external id or --none", c.help);
  }
  if (int r = c.Connect(); r != kOk) return r;
  json body = {{"door", none ? json(nullptr) : json(c.args.positional[1])}};
  auto d = c.Send("PATCH", DevicePath(c.args.positional[0]), body);
  if (!d) return c.rc;
  if (c.args.json) {
    PrintJson(DeviceOut(*d));
  } else {
    std::printf("device %s now serves %s\n", c.args.positional[0].c_str(),
                none ? "no door" : ("door " + c.args.positional[1]).c_str());
  }
  return kOk;
}

int SetEnabled(int argc, char** argv, bool enable) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, enable ? "facegatectl device enable" : "facegatectl device disable",
                   kDisableHelp, {}, {}, 1, 1, "no device name given");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  auto d = c.Send("PATCH", DevicePath(c.args.positional[0]), json{{"enabled", enable}});
  if (!d) return c.rc;
  if (c.args.json) {
    PrintJson(DeviceOut(*d));
  } else {
    std::printf("device %s %s (status %s)\n", c.args.positional[0].c_str(),
                enable ? "enabled" : "disabled", Str(*d, "status").c_str());
  }
  return kOk;
}

int Disable(int argc, char** argv) { return SetEnabled(argc, argv, false); }
int Enable(int argc, char** argv) { return SetEnabled(argc, argv, true); }

int Decommission(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl device decommission", kDecommissionHelp, {"--yes"}, {},
                   1, 1, "no device name given");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  const std::string& name = c.args.positional[0];
  if (!c.Get(DevicePath(name))) return c.rc;  // an unknown device is said before asking
  if (int r = ctl::Confirm(c.prog,
                           "revoke every certificate of device " + name +
                               " (it is refused until commissioned again with a new code)",
                           c.args.Has("--yes"));
      r != kOk) {
    return r;
  }
  auto r = c.Send("POST", DevicePath(name) + "/decommission", json::object());
  if (!r) return c.rc;
  if (c.args.json) {
    PrintJson(*r);
  } else {
    std::printf("device %s decommissioned: %d certificate(s) revoked\n", name.c_str(),
                r->value("certificates_revoked", 0));
  }
  return kOk;
}

int QueueCommand(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl device command", kCommandHelp, {},
                   {"--payload", "--expires-in"}, 2, 2, "expected NAME and COMMAND");
  if (rc != kOk) return ApiCommand::Done(rc);
  json body = {{"command", c.args.positional[1]}};
  if (auto p = c.args.Value("--payload")) {
    json j = json::parse(*p, nullptr, false);
    if (j.is_discarded()) return ctl::UsageError(c.prog, "--payload: not JSON: " + *p, c.help);
    body["payload"] = j;
  }
  if (auto v = c.args.Value("--expires-in")) {
    auto s = ctl::ParseInt(*v, 1, int64_t{10} * 365 * 24 * 3600);
    if (!s) {
      return ctl::UsageError(
          c.prog, "--expires-in: expected a positive number of seconds, got " + Quoted(*v), c.help);
    }
    body["expires_in_s"] = *s;
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto r = c.Send("POST", DevicePath(c.args.positional[0]) + "/commands", body);
  if (!r) return c.rc;
  if (c.args.json) {
    PrintJson(*r);
  } else {
    const std::string expires = Str(*r, "expires_at", "");
    std::printf("command %lld (%s) queued for device %s%s%s\n",
                static_cast<long long>(r->value("id", int64_t{0})), Str(*r, "command").c_str(),
                c.args.positional[0].c_str(), expires.empty() ? "" : ", expires ", expires.c_str());
  }
  return kOk;
}

int Delete(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl device delete", kDeleteHelp, {"--yes"}, {}, 1, 1,
                   "no device name given");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  const std::string& name = c.args.positional[0];
  if (!c.Get(DevicePath(name))) return c.rc;
  if (int r = ctl::Confirm(c.prog, "delete device " + name, c.args.Has("--yes")); r != kOk) {
    return r;
  }
  auto r = c.Call("DELETE", DevicePath(name));
  if (!r) return c.rc;
  if (c.args.json) {
    PrintJson(r->json);
  } else {
    std::printf("device %s deleted\n", name.c_str());
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
                                  {"command", QueueCommand},
                                  {"delete", Delete}};
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
