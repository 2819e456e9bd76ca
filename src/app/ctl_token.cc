// `facegatectl token create|list|revoke`: the admin API's bearer tokens, through the API (an
// admin token), and `token create --bootstrap`: the first admin token of an installation,
// made on the daemon's host by writing its store directly (no daemon needed), only while no
// active token exists. A token is printed once, alone on stdout; only its SHA-256 is stored.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl_api_command.h"
#include "ctl_common.h"
#include "facegate/admin/admin_api.h"
#include "facegate/store/store.h"

namespace facegate::app {
namespace {

using ctl::ApiCommand;
using ctl::kFailure;
using ctl::kOk;
using ctl::kUsage;
using ctl::PrintJson;
using ctl::Quoted;
using ctl::Str;
using json = nlohmann::json;

#define FG_CONN "[--json] [--url URL] [--token-file FILE] [--ca FILE]"

constexpr const char* kTokenHelp =
    "Usage: facegatectl token COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "Bearer tokens of the admin API (an admin token manages them).\n"
    "\n"
    "Commands:\n"
    "  create --name N [--role R]   a new token, printed once\n"
    "  create --bootstrap           the first admin token, on the daemon's host (no daemon\n"
    "                               needed; only while no active token exists)\n"
    "  list                         the tokens (never their secrets), with last use\n"
    "  revoke ID                    revoke a token: its next request is refused\n"
    "\n"
    "Run 'facegatectl token COMMAND --help' for a command's options.\n";

constexpr const char* kCreateHelp =
    "Usage: facegatectl token create --name N [--role admin|operator|viewer] " FG_CONN
    "\n"
    "       facegatectl token create --bootstrap [--name N] [--config FILE] [--json]\n"
    "\n"
    "Creates a token (POST /api/v1/tokens, an admin token) and prints it once, alone on a\n"
    "line of stdout (with --json: the record with \"token\"). Only its SHA-256 is stored: keep\n"
    "it in a file readable by its user only and pass it with --token-file. Roles: viewer\n"
    "(default) reads everything but tokens and the audit log; operator also changes users,\n"
    "faces, devices and imports; admin also manages tokens, integrations, doors, groups,\n"
    "schedules, holidays, rights and reads the audit log.\n"
    "\n"
    "--bootstrap makes the first admin token of an installation without the API: run on the\n"
    "daemon's host as the daemon's user, it opens the store of the --config file directly\n"
    "and works only while no active token exists ('facegated --init' makes one already;\n"
    "this is for when it was lost and every token revoked). Otherwise it refuses: ask an\n"
    "admin to create one through the API.\n"
    "\n"
    "Options:\n"
    "  --name N          what the token is for (shown in the audit log as token:N); unique\n"
    "                    among active tokens (default with --bootstrap: bootstrap)\n"
    "  --role R          admin, operator or viewer (default viewer; --bootstrap: admin)\n"
    "  --bootstrap       the first admin token, written to the store directly\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 created, 1 refused (--bootstrap: an active token exists) or failed,\n"
    "2 usage error, " FG_API_EXIT "6 an active token of that name exists.\n";

constexpr const char* kListHelp =
    "Usage: facegatectl token list [--all] " FG_CONN
    "\n"
    "\n"
    "The tokens: id, name, role, who created it, created, last used (to the minute), revoked.\n"
    "Never the secrets.\n"
    "\n"
    "Options:\n"
    "  --all             revoked tokens too\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kRevokeHelp =
    "Usage: facegatectl token revoke ID " FG_CONN
    "\n"
    "\n"
    "Revokes the token with this id (ids from 'facegatectl token list'): its next request is\n"
    "refused with 401. Revoking the token the command runs with is allowed.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 revoked, 1 failed, 2 usage error, " FG_API_EXIT "5 no such token.\n";

int Bootstrap(const ApiCommand& c) {
  if (c.args.Has("--role") && c.args.Value("--role") != "admin") {
    return ctl::UsageError(c.prog, "--bootstrap makes an admin token: leave --role out", c.help);
  }
  for (const char* o : {"--url", "--token", "--token-file", "--ca"}) {
    if (c.args.Has(o)) {
      return ctl::UsageError(c.prog,
                             std::string(o) +
                                 ": --bootstrap talks to no daemon (it opens the "
                                 "store of --config on this host)",
                             c.help);
    }
  }
  const std::string name = c.args.Value("--name").value_or("bootstrap");
  if (name.empty()) return ctl::UsageError(c.prog, "--name is empty", c.help);
  ctl::QuietLogging();
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto active = s.CountActiveAdminTokens();
  if (!active.ok()) return ctl::Fail(c.prog, active.status());
  if (*active > 0) {
    std::fprintf(stderr,
                 "%s: refused: %lld active token(s) exist; --bootstrap only makes the first "
                 "one. Ask an admin to run 'facegatectl token create --name N --role admin' "
                 "with their token through the API\n",
                 c.prog.c_str(), static_cast<long long>(*active));
    return kFailure;
  }
  std::string sha256;
  auto token = admin::GenerateAdminToken(&sha256);
  if (!token.ok()) return ctl::Fail(c.prog, token.status());
  auto id = s.CreateAdminToken(
      store::NewAdminToken{name, "admin", sha256, "facegatectl token create --bootstrap"});
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  if (c.args.json) {
    PrintJson({{"id", *id}, {"name", name}, {"role", "admin"}, {"token", *token}});
  } else {
    std::printf("%s\n", token->c_str());
    std::fprintf(stderr,
                 "%s: admin token %lld (%s) created: it is shown only now; keep it in a file "
                 "only you can read and pass it with --token-file\n",
                 c.prog.c_str(), static_cast<long long>(*id), name.c_str());
  }
  return kOk;
}

int Create(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl token create", kCreateHelp, {"--bootstrap"},
                   {"--name", "--role"}, 0, 0, "");
  if (rc != kOk) return ApiCommand::Done(rc);
  if (c.args.Has("--bootstrap")) return Bootstrap(c);
  auto name = c.args.Value("--name");
  if (!name || name->empty()) return ctl::UsageError(c.prog, "--name N is required", c.help);
  const std::string role = c.args.Value("--role").value_or("viewer");
  if (role != "admin" && role != "operator" && role != "viewer") {
    return ctl::UsageError(
        c.prog, "--role: expected admin, operator or viewer, got " + Quoted(role), c.help);
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto t = c.Send("POST", "/api/v1/tokens", json{{"name", *name}, {"role", role}});
  if (!t) return c.rc;
  if (c.args.json) {
    PrintJson(*t);
  } else {
    std::printf("%s\n", Str(*t, "token").c_str());
    std::fprintf(stderr,
                 "%s: %s token %lld (%s) created: it is shown only now; keep it in a file only "
                 "its user can read\n",
                 c.prog.c_str(), role.c_str(), static_cast<long long>(t->value("id", int64_t{0})),
                 name->c_str());
  }
  return kOk;
}

int List(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl token list", kListHelp, {"--all"}, {}, 0, 0, "");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  auto page =
      c.Get(std::string("/api/v1/tokens") + (c.args.Has("--all") ? "?include_revoked=true" : ""));
  if (!page) return c.rc;
  json items = page->value("items", json::array());
  if (c.args.json) {
    PrintJson({{"tokens", items}});
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : items) {
    rows.push_back({std::to_string(t.value("id", int64_t{0})), Str(t, "name"), Str(t, "role"),
                    Str(t, "created_by"), Str(t, "created_at"), Str(t, "last_used_at", "never"),
                    Str(t, "revoked_at")});
  }
  ctl::PrintTable({"ID", "NAME", "ROLE", "CREATED_BY", "CREATED", "LAST_USED", "REVOKED"}, rows);
  return kOk;
}

int Revoke(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl token revoke", kRevokeHelp, {}, {}, 1, 1,
                   "no token id given");
  if (rc != kOk) return ApiCommand::Done(rc);
  auto id = ctl::ParseInt(c.args.positional[0], 1, INT64_MAX);
  if (!id) {
    return ctl::UsageError(
        c.prog, "expected a token id (a positive number), got " + Quoted(c.args.positional[0]),
        c.help);
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto t = c.Call("DELETE", "/api/v1/tokens/" + std::to_string(*id));
  if (!t) return c.rc;
  if (c.args.json) {
    PrintJson(t->json);
  } else {
    std::printf("token %lld (%s) revoked\n", static_cast<long long>(*id),
                Str(t->json, "name").c_str());
  }
  return kOk;
}

}  // namespace

// argv[0] is the first argument after "token".
int RunTokenCommand(int argc, char** argv) {
  const std::string cmd = argc > 0 ? argv[0] : "";
  if (cmd == "create") return Create(argc - 1, argv + 1);
  if (cmd == "list") return List(argc - 1, argv + 1);
  if (cmd == "revoke") return Revoke(argc - 1, argv + 1);
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(kTokenHelp, stdout);
    return kOk;
  }
  if (cmd.empty()) {
    std::fputs(kTokenHelp, stderr);
  } else {
    std::fprintf(stderr, "facegatectl token: unknown command '%s'\n\n%s", cmd.c_str(), kTokenHelp);
  }
  return kUsage;
}

}  // namespace facegate::app
