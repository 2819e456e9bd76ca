// facegate-test-mdwe: runs a program under MemoryDenyWriteExecute as systemd applies it, so
// the tests can show that facegated (OpenBLAS, dlib, OpenCV, OpenSSL) works with it on:
// systemd is not PID 1 on the test machines.
//
//   facegate-test-mdwe [--seccomp] [--probe] -- PROGRAM [ARGS...]
//
// By default the kernel's own switch, prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (Linux
// 6.3+; what systemd 254+ uses, e.g. Ubuntu 24.04's 255): no mapping both writable and
// executable, none made executable later. --seccomp installs instead the seccomp filter
// systemd 252 (Debian 12) uses: mmap with PROT_WRITE|PROT_EXEC, mprotect/pkey_mprotect adding
// PROT_EXEC and shmat with SHM_EXEC fail with EPERM. Either survives execve.
// --probe first tries a writable+executable mapping and exits 1 when it is not refused
// (proof that the protection is in force), then runs PROGRAM if one is given.
// Exit status: PROGRAM's (this process becomes it), 1 when the probe failed, 2 usage or set-up.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kPrSetMdwe = 65;                // PR_SET_MDWE (linux/prctl.h of 6.3+)
constexpr unsigned long kRefuseExecGain = 1;  // PR_MDWE_REFUSE_EXEC_GAIN

constexpr const char* kUsage =
    "Usage: facegate-test-mdwe [--seccomp] [--probe] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM with MemoryDenyWriteExecute as systemd applies it: the kernel's\n"
    "PR_SET_MDWE, or with --seccomp systemd 252's seccomp filter. --probe checks first that a\n"
    "writable and executable mapping is refused.\n";

// The low 32 bits of system call argument `n` (prot and shmflg values fit in them).
constexpr unsigned ArgLow(int n) {
  return static_cast<unsigned>(offsetof(seccomp_data, args) + n * sizeof(__u64));
}

// EPERM when (argument `arg` & mask) == mask for system call `nr`, as systemd's filter does.
void AddRule(std::vector<sock_filter>& f, int nr, int arg, unsigned mask) {
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(nr), 0, 4));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgLow(arg)));
  f.push_back(BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, mask, 0, 1));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
}

bool InstallSeccompFilter() {
  std::vector<sock_filter> f;
  // Another architecture's system call numbers mean other calls: refuse them all.
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  AddRule(f, SYS_mmap, 2, PROT_WRITE | PROT_EXEC);
  AddRule(f, SYS_mprotect, 2, PROT_EXEC);
  AddRule(f, SYS_pkey_mprotect, 2, PROT_EXEC);
  AddRule(f, SYS_shmat, 2, SHM_EXEC);
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool seccomp = false, probe = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seccomp") {
      seccomp = true;
    } else if (a == "--probe") {
      probe = true;
    } else if (a == "--") {
      ++i;
      break;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "facegate-test-mdwe: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (i >= argc && !probe) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (seccomp) {
    if (!InstallSeccompFilter()) {
      std::fprintf(stderr, "facegate-test-mdwe: seccomp filter: %s\n", std::strerror(errno));
      return 2;
    }
  } else if (::prctl(kPrSetMdwe, kRefuseExecGain, 0L, 0L, 0L) != 0) {
    std::fprintf(stderr,
                 "facegate-test-mdwe: PR_SET_MDWE: %s (Linux 6.3 or later needed; --seccomp "
                 "works on older kernels)\n",
                 std::strerror(errno));
    return 2;
  }
  std::fprintf(stderr, "facegate-test-mdwe: MemoryDenyWriteExecute on (%s)\n",
               seccomp ? "seccomp filter" : "PR_SET_MDWE");
  if (probe) {
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (p != MAP_FAILED) {
      std::fprintf(stderr, "facegate-test-mdwe: a writable+executable mapping was allowed\n");
      return 1;
    }
    std::fprintf(stderr, "facegate-test-mdwe: probe: writable+executable mapping refused (%s)\n",
                 std::strerror(errno));
    if (i >= argc) return 0;
  }
  ::execv(argv[i], argv + i);
  std::fprintf(stderr, "facegate-test-mdwe: cannot run %s: %s\n", argv[i], std::strerror(errno));
  return 2;
}
