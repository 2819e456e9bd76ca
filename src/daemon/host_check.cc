#include "facegate/daemon/host_check.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#endif

namespace facegate::daemon {
namespace {

// statfs f_type values (linux/magic.h) of the file systems the checks name.
struct FsName {
  int64_t magic;
  const char* name;
  bool network;
  bool volatile_memory;
};
constexpr FsName kFileSystems[] = {
    {0xEF53, "ext4", false, false},      {0x58465342, "xfs", false, false},
    {0x9123683E, "btrfs", false, false}, {0xF2F52010, "f2fs", false, false},
    {0x2FC12FC1, "zfs", false, false},   {0x794C7630, "overlay", false, false},
    {0x01021994, "tmpfs", false, true},  {0x858458F6, "ramfs", false, true},
    {0x6969, "nfs", true, false},        {0xFF534D42, "cifs", true, false},
    {0xFE534D42, "smb2", true, false},   {0x517B, "smb", true, false},
    {0x65735546, "fuse", false, false},  {0x00C36400, "ceph", true, false},
    {0x47504653, "gpfs", true, false},   {0x0BD00BD0, "lustre", true, false},
    {0x5346414F, "afs", true, false},    {0x564C, "ncp", true, false},
    {0x01021997, "9p", true, false},     {0x73717368, "squashfs", false, false},
};

const FsName* FindFs(const std::string& name) {
  for (const auto& f : kFileSystems) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string ReadFirstLine(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

bool CpuHasAvx2Fma() {
#if defined(__x86_64__) && __has_include(<sys/platform/x86.h>)
  // glibc's active bits: the CPU has it, the kernel enabled it, no GLIBC_TUNABLES mask.
  return CPU_FEATURE_ACTIVE(AVX2) && CPU_FEATURE_ACTIVE(FMA);
#elif defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

uint64_t MemTotalBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib * 1024;
  }
  return 0;
}

Tristate Walk(const std::filesystem::path& dev_dir, std::string* device, int depth,
              std::set<std::string>* seen) {
  std::error_code ec;
  const auto real = std::filesystem::canonical(dev_dir, ec);
  if (ec || depth > 8 || !seen->insert(real.string()).second) return Tristate::kUnknown;
  const std::string name = real.filename().string();
  const std::string uuid = ReadFirstLine(real / "dm" / "uuid");
  if (device->empty()) *device = name + (uuid.empty() ? "" : " (" + uuid.substr(0, 12) + ")");
  if (uuid.rfind("CRYPT-", 0) == 0) {
    if (depth > 0) *device += " on " + name + " (" + uuid.substr(0, 12) + ")";
    return Tristate::kYes;
  }
  // A partition's "slaves" are its disk's: look at the parent device for them.
  std::filesystem::path slaves = real / "slaves";
  if (std::filesystem::exists(real / "partition", ec)) slaves = real.parent_path() / "slaves";
  for (const auto& e : std::filesystem::directory_iterator(slaves, ec)) {
    if (Walk(e.path(), device, depth + 1, seen) == Tristate::kYes) return Tristate::kYes;
  }
  return Tristate::kNo;
}

}  // namespace

Tristate BlockDeviceEncrypted(const std::filesystem::path& sys_root, unsigned major, unsigned minor,
                              std::string* device) {
  device->clear();
  const auto dir =
      sys_root / "dev" / "block" / (std::to_string(major) + ":" + std::to_string(minor));
  std::error_code ec;
  if (major == 0 || !std::filesystem::exists(dir, ec)) return Tristate::kUnknown;
  std::set<std::string> seen;
  return Walk(dir, device, 0, &seen);
}

Tristate ClockSynchronized(int64_t* max_error_us) {
  timex t{};
  t.modes = 0;  // read only
  const int state = ::adjtimex(&t);
  if (state < 0) return Tristate::kUnknown;
  *max_error_us = t.maxerror;
  return state == TIME_ERROR || (t.status & STA_UNSYNC) ? Tristate::kNo : Tristate::kYes;
}

HostFacts ReadHostFacts(const std::filesystem::path& data_dir,
                        const std::filesystem::path& sys_root) {
  HostFacts f;
  f.avx2_fma = CpuHasAvx2Fma();
  f.memory_bytes = MemTotalBytes();
  struct statfs sf {};
  if (::statfs(data_dir.c_str(), &sf) == 0) {
    for (const auto& fs : kFileSystems) {
      if (static_cast<int64_t>(static_cast<uint32_t>(sf.f_type)) == fs.magic) {
        f.data_fs_type = fs.name;
      }
    }
    if (f.data_fs_type.empty()) {
      std::ostringstream hex;
      hex << "0x" << std::hex << static_cast<uint32_t>(sf.f_type);
      f.data_fs_type = hex.str();
    }
  }
  struct stat st {};
  if (::stat(data_dir.c_str(), &st) == 0) {
    f.data_encrypted =
        BlockDeviceEncrypted(sys_root, major(st.st_dev), minor(st.st_dev), &f.data_device);
  }
  f.clock_synchronized = ClockSynchronized(&f.clock_max_error_us);
  return f;
}

HostVerdict JudgeHost(const HostFacts& f, bool allow_no_avx2) {
  HostVerdict v;
  if (!f.avx2_fma) {
    if (!allow_no_avx2) {
      v.refusal = Status::FailedPrecondition(
          "this CPU has no AVX2 with FMA, which Facegate requires (docs/install.md); set "
          "server.allow_no_avx2 to true to run the portable (slower) kernels anyway");
    } else {
      v.warnings.push_back({"no_avx2",
                            "the CPU has no AVX2 with FMA: the 1:N search runs the portable "
                            "kernels (server.allow_no_avx2), several times slower"});
    }
  }
  if (const FsName* fs = FindFs(f.data_fs_type); fs && fs->network && v.refusal.ok()) {
    v.refusal =
        Status::FailedPrecondition("data_dir is on a network file system (" + f.data_fs_type +
                                   "): SQLite's locking is not safe there; use a local disk");
  } else if (fs && fs->volatile_memory) {
    v.warnings.push_back({"data_dir_volatile", "data_dir is on " + f.data_fs_type +
                                                   ": everything in it is lost at reboot"});
  }
  if (f.memory_bytes > 0 && f.memory_bytes < kMinMemoryBytes) {
    v.warnings.push_back({"low_memory", "the host has " + std::to_string(f.memory_bytes >> 20) +
                                            " MiB of memory; Facegate is sized for 2 GiB or more"});
  }
  if (f.data_encrypted == Tristate::kNo) {
    v.warnings.push_back(
        {"storage_not_encrypted",
         "data_dir's disk (" + f.data_device +
             ") is not encrypted: face templates are encrypted by Facegate, but names, events "
             "and the keys rely on the disk; use full-disk encryption (LUKS)"});
  }
  if (auto w = ClockWarning(f.clock_synchronized)) v.warnings.push_back(*w);
  return v;
}

std::optional<HostWarning> ClockWarning(Tristate synchronized) {
  if (synchronized != Tristate::kNo) return std::nullopt;
  return HostWarning{"time_not_synchronized",
                     "the system clock is not synchronised (NTP): access schedules and "
                     "certificate checks depend on it; see docs/install.md (chrony)"};
}

std::string HostFactsJson(const HostFacts& f, const HostVerdict& v) {
  auto tri = [](Tristate t) -> nlohmann::json {
    if (t == Tristate::kUnknown) return nullptr;
    return t == Tristate::kYes;
  };
  nlohmann::json warnings = nlohmann::json::array();
  for (const auto& w : v.warnings) warnings.push_back({{"name", w.name}, {"message", w.message}});
  nlohmann::json j = {
      {"cpu_avx2_fma", f.avx2_fma},
      {"memory_bytes", f.memory_bytes},
      {"data_dir_filesystem", f.data_fs_type},
      {"data_dir_device", f.data_device},
      {"storage_encrypted", tri(f.data_encrypted)},
      {"clock_synchronized", tri(f.clock_synchronized)},
      {"clock_max_error_us", f.clock_max_error_us},
      {"ok", v.refusal.ok()},
      {"refusal", v.refusal.ok() ? nlohmann::json(nullptr) : nlohmann::json(v.refusal.message())},
      {"warnings", warnings}};
  return j.dump(2);
}

}  // namespace facegate::daemon
