// facegatectl: the admin command line. Subcommands arrive with their subsystems: `face` (the
// face engine in-process), `store` (the template store on this host); besides them it answers
// --help and --version. The site is run through facegated's admin API (ctl_client.h): `user`,
// `door`, `group`, `schedule`, `holiday`, `right` (ctl_site.cc), `device` (ctl_device.cc),
// `face enroll|list|delete|photo` (ctl_enroll.cc), `token` (ctl_token.cc; `token create
// --bootstrap` works on the store of this host), `event`, `integration`, `status`, `audit`,
// `export` (ctl_admin.cc).
#include <cstdio>
#include <string>

#include "facegate/core/version.h"

namespace facegate::app {
int RunFaceCommand(int argc, char** argv);        // ctl_face.cc
int RunStoreCommand(int argc, char** argv);       // ctl_store.cc
int RunFaceEnrollCommand(int argc, char** argv);  // ctl_enroll.cc: enroll, list, delete, photo
int RunTokenCommand(int argc, char** argv);       // ctl_token.cc
bool IsAdminCommand(const std::string& group);    // ctl_admin.cc: event, integration, ...
int RunAdminCommand(const std::string& group, int argc, char** argv);
int RunDeviceCommand(int argc, char** argv);   // ctl_device.cc
int RunImportCommand(int argc, char** argv);   // ctl_import.cc: through the admin API
bool IsSiteCommand(const std::string& group);  // ctl_site.cc: user, door, group, ...
int RunSiteCommand(const std::string& group, int argc, char** argv);
}  // namespace facegate::app

int main(int argc, char** argv) {
  std::string arg = argc > 1 ? argv[1] : "";
  if (arg == "face" && argc > 2 &&
      (std::string(argv[2]) == "enroll" || std::string(argv[2]) == "list" ||
       std::string(argv[2]) == "delete" || std::string(argv[2]) == "photo")) {
    return facegate::app::RunFaceEnrollCommand(argc - 2, argv + 2);  // through the API
  }
  if (arg == "token") return facegate::app::RunTokenCommand(argc - 2, argv + 2);
  if (facegate::app::IsAdminCommand(arg)) {
    return facegate::app::RunAdminCommand(arg, argc - 2, argv + 2);
  }
  if (arg == "device") return facegate::app::RunDeviceCommand(argc - 2, argv + 2);
  if (arg == "import") return facegate::app::RunImportCommand(argc - 2, argv + 2);
  if (facegate::app::IsSiteCommand(arg)) {
    return facegate::app::RunSiteCommand(arg, argc - 2, argv + 2);
  }
  if (arg == "face") return facegate::app::RunFaceCommand(argc - 2, argv + 2);
  if (arg == "store") return facegate::app::RunStoreCommand(argc - 2, argv + 2);
  if (arg == "--version") {
    std::printf("facegatectl %s\n", std::string(facegate::Version()).c_str());
    return 0;
  }
  std::FILE* out = (arg == "-h" || arg == "--help") ? stdout : stderr;
  std::fprintf(out,
               "Usage: facegatectl COMMAND [ARGS] [--json]\n"
               "\n"
               "Administers a Facegate server. Commands arrive as their subsystems do;\n"
               "see docs/facegatectl.md.\n"
               "\n"
               "Commands:\n"
               "  face        the face engine in-process: embed, compare (docs/face.md);\n"
               "              through the API: enroll, list, delete, photo\n"
               "  store       the template store of this host: status, backup, restore,\n"
               "              rotate-key, check\n"
               "\n"
               "Through the admin API of a running facegated (--url, --token-file, --ca or\n"
               "FACEGATE_URL, FACEGATE_TOKEN_FILE, FACEGATE_CA):\n"
               "  user        users: add, update, list, show, erase (GDPR), export (GDPR)\n"
               "  door        doors and their face policy: add, list\n"
               "  group       access groups: add, list, member add|remove|list\n"
               "  schedule    weekly schedules: add, list\n"
               "  holiday     holiday calendars: add, list\n"
               "  right       access rights: add, list, remove\n"
               "  device      door terminals: create (with a commissioning code), code, list,\n"
               "              set-door, disable, enable, decommission, command, delete\n"
               "  import      bulk import of users and photos from a CSV, through the\n"
               "              admin API of a running facegated\n"
               "  token       API tokens: create, list, revoke; create --bootstrap (the first\n"
               "              admin token, on the daemon's host, without the daemon)\n"
               "  event       access events: list, export (CSV)\n"
               "  integration integrations: list, show, set\n"
               "  status      the daemon: version, uptime, counts, model, index\n"
               "  audit       the audit log: list\n"
               "  export      users, groups, rights (and templates) as one JSON document\n"
               "\n"
               "Options:\n"
               "  --version   print the version and exit\n"
               "  -h, --help  show this help\n");
  return out == stdout ? 0 : 2;
}
