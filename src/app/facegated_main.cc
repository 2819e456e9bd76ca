#include "facegate/daemon/daemon.h"

int main(int argc, char** argv) { return facegate::daemon::DaemonMain(argc, argv); }
