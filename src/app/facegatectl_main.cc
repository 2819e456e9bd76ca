// facegatectl: the admin command line. Subcommands arrive with their subsystems: `face` (the
// face engine in-process); besides them it answers --help and --version.
#include <cstdio>
#include <string>

#include "facegate/core/version.h"

namespace facegate::app {
int RunFaceCommand(int argc, char** argv);  // ctl_face.cc
}  // namespace facegate::app

int main(int argc, char** argv) {
  std::string arg = argc > 1 ? argv[1] : "";
  if (arg == "face") return facegate::app::RunFaceCommand(argc - 2, argv + 2);
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
               "  face        run the face engine in-process: embed, compare (docs/face.md)\n"
               "\n"
               "Options:\n"
               "  --version   print the version and exit\n"
               "  -h, --help  show this help\n");
  return out == stdout ? 0 : 2;
}
