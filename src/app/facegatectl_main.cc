// facegatectl: the admin command line. Subcommands arrive with their subsystems: `face` (the
// face engine in-process), `store` (the template store on this host); besides them it answers
// --help and --version. Until the admin API exists, the site is set up by local commands on
// the store: `user`, `door`, `group`, `schedule`, `holiday`, `right` (ctl_site.cc), `device`
// (ctl_device.cc) and `face enroll` (ctl_enroll.cc).
#include <cstdio>
#include <string>

#include "facegate/core/version.h"

namespace facegate::app {
int RunFaceCommand(int argc, char** argv);        // ctl_face.cc
int RunStoreCommand(int argc, char** argv);       // ctl_store.cc
int RunFaceEnrollCommand(int argc, char** argv);  // ctl_enroll.cc
int RunDeviceCommand(int argc, char** argv);      // ctl_device.cc
bool IsSiteCommand(const std::string& group);     // ctl_site.cc: user, door, group, ...
int RunSiteCommand(const std::string& group, int argc, char** argv);
}  // namespace facegate::app

int main(int argc, char** argv) {
  std::string arg = argc > 1 ? argv[1] : "";
  if (arg == "face" && argc > 2 && std::string(argv[2]) == "enroll") {
    return facegate::app::RunFaceEnrollCommand(argc - 3, argv + 3);  // needs the store
  }
  if (arg == "device") return facegate::app::RunDeviceCommand(argc - 2, argv + 2);
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
               "  face        the face engine in-process: embed, compare; enroll (docs/face.md)\n"
               "  store       the template store: status, backup, restore, rotate-key, check\n"
               "  user        users: add, update, list, show, erase (GDPR)\n"
               "  door        doors and their face policy: add, list\n"
               "  group       access groups: add, list, member add|remove|list\n"
               "  schedule    weekly schedules: add, list\n"
               "  holiday     holiday calendars: add, list\n"
               "  right       access rights: add, list, remove\n"
               "  device      door terminals: create (with a commissioning code), code, list,\n"
               "              set-door, disable, enable, decommission, command\n"
               "\n"
               "Options:\n"
               "  --version   print the version and exit\n"
               "  -h, --help  show this help\n");
  return out == stdout ? 0 : 2;
}
