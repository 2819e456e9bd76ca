// Host checks: what facegated needs of the machine it runs on, read at start-up and shown by
// `facegated --check-host` (docs/install.md "Requirements").
//
//   - CPU: AVX2 with FMA (the product's stated requirement; the 1:N index's kernels). Read
//     from glibc's "active" feature bits, so GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2 shows what
//     a CPU without it does. Refused unless server.allow_no_avx2 (the scalar kernels then).
//   - Memory: MemTotal from /proc/meminfo; a warning below kMinMemoryBytes.
//   - The data directory's file system: refused on network file systems (SQLite's locking
//     is not safe there); a warning on tmpfs/ramfs (lost at reboot).
//   - Storage encryption: whether the block device under the data directory is dm-crypt
//     (LUKS), directly or below LVM/RAID; a warning when it is not. Templates are encrypted
//     by Facegate either way; names, events and keys rely on the disk's encryption.
//   - Time: the kernel's NTP state (adjtimex, read-only): access schedules need a synced
//     clock. A warning when unsynchronised; "unknown" when the sandbox refuses the call.
// Thread-safety: the functions are pure or read the system; call from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::daemon {

inline constexpr uint64_t kMinMemoryBytes = 2ull << 30;

enum class Tristate { kYes, kNo, kUnknown };

struct HostFacts {
  bool avx2_fma = false;
  uint64_t memory_bytes = 0;  // 0: unknown
  std::string data_fs_type;   // "ext4", "xfs", "tmpfs", "nfs", "overlay", ...; "" unknown
  Tristate data_encrypted = Tristate::kUnknown;
  std::string data_device;  // "dm-0 (CRYPT-LUKS2-...)", "sda2", "" when unknown
  Tristate clock_synchronized = Tristate::kUnknown;
  int64_t clock_max_error_us = -1;  // the kernel's estimate; -1 unknown
};

// Reads the facts for `data_dir` (which must exist). `sys_root` is where sysfs is mounted
// (tests pass a directory laid out like it).
HostFacts ReadHostFacts(const std::filesystem::path& data_dir,
                        const std::filesystem::path& sys_root = "/sys");

// Whether the block device `major:minor` is dm-crypt or sits on one (its "slaves", walked
// down). `device` receives a short description of what was found.
Tristate BlockDeviceEncrypted(const std::filesystem::path& sys_root, unsigned major, unsigned minor,
                              std::string* device);

// The kernel's clock synchronisation state, read-only. kUnknown when refused (e.g. systemd's
// ProtectClock=yes filters adjtimex).
Tristate ClockSynchronized(int64_t* max_error_us);

struct HostWarning {
  std::string name;  // readyz warning name, e.g. "storage_not_encrypted"
  std::string message;
};

struct HostVerdict {
  Status refusal;  // not ok: facegated does not start
  std::vector<HostWarning> warnings;
};

// The warning for an unsynchronised clock (checked again while the daemon runs).
std::optional<HostWarning> ClockWarning(Tristate synchronized);

// What the facts mean for a start: a refusal (the first one found) and the warnings.
HostVerdict JudgeHost(const HostFacts& facts, bool allow_no_avx2);

// The facts as JSON text (facegated --check-host --json).
std::string HostFactsJson(const HostFacts& facts, const HostVerdict& verdict);

}  // namespace facegate::daemon
