// The host checks: the dm-crypt walk over a directory laid out as sysfs lays out block
// devices (the machines here have no encrypted disk to look at), what each fact means for a
// start, and the facts read off this machine.
#include "facegate/daemon/host_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace facegate::daemon {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class FakeSysfs {
 public:
  // A block device directory under devices/, and its dev/block/MAJ:MIN link.
  fs::path AddDevice(const std::string& rel, unsigned major, unsigned minor,
                     const std::string& dm_uuid = "") {
    const fs::path dir = root() / "devices" / rel;
    fs::create_directories(dir / "slaves");
    if (!dm_uuid.empty()) {
      fs::create_directories(dir / "dm");
      std::ofstream(dir / "dm" / "uuid") << dm_uuid << "\n";
    }
    fs::create_directories(root() / "dev" / "block");
    fs::create_symlink(
        dir, root() / "dev" / "block" / (std::to_string(major) + ":" + std::to_string(minor)));
    return dir;
  }
  fs::path AddPartition(const fs::path& disk, const std::string& name, unsigned major,
                        unsigned minor) {
    const fs::path dir = disk / name;
    fs::create_directories(dir);
    std::ofstream(dir / "partition") << "2\n";
    fs::create_directories(root() / "dev" / "block");
    fs::create_symlink(
        dir, root() / "dev" / "block" / (std::to_string(major) + ":" + std::to_string(minor)));
    return dir;
  }
  static void Stack(const fs::path& upper, const fs::path& lower) {
    fs::create_symlink(lower, upper / "slaves" / lower.filename());
  }
  fs::path root() const { return dir_.path() / "sys"; }

 private:
  facegate::testing::TempDir dir_;
};

TEST(HostCheckTest, LvmOnLuksIsEncryptedAndNamesTheCryptDevice) {
  FakeSysfs sys;
  const auto disk = sys.AddDevice("pci/vda", 254, 0);
  const auto part = sys.AddPartition(disk, "vda3", 254, 3);
  const auto crypt = sys.AddDevice("virtual/block/dm-0", 253, 0, "CRYPT-LUKS2-0123456789ab-root");
  const auto lvm = sys.AddDevice("virtual/block/dm-1", 253, 1, "LVM-AbCdEf");
  FakeSysfs::Stack(crypt, part);
  FakeSysfs::Stack(lvm, crypt);
  std::string device;
  EXPECT_EQ(BlockDeviceEncrypted(sys.root(), 253, 1, &device), Tristate::kYes);
  EXPECT_THAT(device, HasSubstr("dm-1"));
  EXPECT_THAT(device, HasSubstr("dm-0 (CRYPT-LUKS2"));
  EXPECT_EQ(BlockDeviceEncrypted(sys.root(), 253, 0, &device), Tristate::kYes);
}

TEST(HostCheckTest, APlainPartitionOrPlainLvmIsNotEncrypted) {
  FakeSysfs sys;
  const auto disk = sys.AddDevice("pci/sda", 8, 0);
  const auto part = sys.AddPartition(disk, "sda2", 8, 2);
  const auto lvm = sys.AddDevice("virtual/block/dm-0", 253, 0, "LVM-plain");
  FakeSysfs::Stack(lvm, part);
  std::string device;
  EXPECT_EQ(BlockDeviceEncrypted(sys.root(), 8, 2, &device), Tristate::kNo);
  EXPECT_EQ(device, "sda2");
  EXPECT_EQ(BlockDeviceEncrypted(sys.root(), 253, 0, &device), Tristate::kNo);
  EXPECT_THAT(device, HasSubstr("dm-0"));
}

TEST(HostCheckTest, NoBlockDeviceIsUnknown) {
  FakeSysfs sys;
  std::string device = "stale";
  // tmpfs, overlay and the like have major 0; a device sysfs does not list is unknown too.
  EXPECT_EQ(BlockDeviceEncrypted(sys.root(), 0, 42, &device), Tristate::kUnknown);
  EXPECT_EQ(device, "");
  EXPECT_EQ(BlockDeviceEncrypted(sys.root(), 259, 7, &device), Tristate::kUnknown);
}

HostFacts GoodHost() {
  HostFacts f;
  f.avx2_fma = true;
  f.memory_bytes = 8ull << 30;
  f.data_fs_type = "ext4";
  f.data_encrypted = Tristate::kYes;
  f.data_device = "dm-0";
  f.clock_synchronized = Tristate::kYes;
  return f;
}

std::vector<std::string> WarningNames(const HostVerdict& v) {
  std::vector<std::string> out;
  for (const auto& w : v.warnings) out.push_back(w.name);
  return out;
}

TEST(HostCheckTest, AGoodHostStartsWithoutWarnings) {
  const HostVerdict v = JudgeHost(GoodHost(), false);
  EXPECT_TRUE(v.refusal.ok()) << v.refusal.ToString();
  EXPECT_TRUE(v.warnings.empty());
}

TEST(HostCheckTest, NoAvx2IsRefusedUnlessAllowedThenAWarning) {
  HostFacts f = GoodHost();
  f.avx2_fma = false;
  const HostVerdict refused = JudgeHost(f, false);
  EXPECT_FALSE(refused.refusal.ok());
  EXPECT_THAT(refused.refusal.message(), HasSubstr("AVX2"));
  EXPECT_THAT(refused.refusal.message(), HasSubstr("server.allow_no_avx2"));
  const HostVerdict allowed = JudgeHost(f, true);
  EXPECT_TRUE(allowed.refusal.ok());
  EXPECT_THAT(WarningNames(allowed), ::testing::ElementsAre("no_avx2"));
}

TEST(HostCheckTest, NetworkFileSystemsAreRefusedAndMemoryOnesWarned) {
  for (const char* network : {"nfs", "cifs", "smb2", "ceph", "9p"}) {
    HostFacts f = GoodHost();
    f.data_fs_type = network;
    const HostVerdict v = JudgeHost(f, false);
    EXPECT_FALSE(v.refusal.ok()) << network;
    EXPECT_THAT(v.refusal.message(), HasSubstr(network));
  }
  HostFacts f = GoodHost();
  f.data_fs_type = "tmpfs";
  const HostVerdict v = JudgeHost(f, false);
  EXPECT_TRUE(v.refusal.ok());
  EXPECT_THAT(WarningNames(v), ::testing::ElementsAre("data_dir_volatile"));
}

TEST(HostCheckTest, LowMemoryUnencryptedStorageAndAnUnsyncedClockAreWarnings) {
  HostFacts f = GoodHost();
  f.memory_bytes = 1ull << 30;
  f.data_encrypted = Tristate::kNo;
  f.data_device = "sda2";
  f.clock_synchronized = Tristate::kNo;
  const HostVerdict v = JudgeHost(f, false);
  EXPECT_TRUE(v.refusal.ok());
  EXPECT_THAT(WarningNames(v), ::testing::ElementsAre("low_memory", "storage_not_encrypted",
                                                      "time_not_synchronized"));
  EXPECT_THAT(v.warnings[1].message, HasSubstr("sda2"));
  // Unknown is not a warning: a sandbox that refuses the clock call is not a broken clock.
  f.clock_synchronized = Tristate::kUnknown;
  f.data_encrypted = Tristate::kUnknown;
  f.memory_bytes = 0;
  EXPECT_TRUE(JudgeHost(f, false).warnings.empty());
}

TEST(HostCheckTest, ReadsThisMachine) {
  facegate::testing::TempDir dir;
  const HostFacts f = ReadHostFacts(dir.path());
  __builtin_cpu_init();
  EXPECT_EQ(f.avx2_fma, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
  EXPECT_GT(f.memory_bytes, 256ull << 20);
  EXPECT_FALSE(f.data_fs_type.empty());
  const std::string json = HostFactsJson(f, JudgeHost(f, true));
  EXPECT_THAT(json, HasSubstr("\"data_dir_filesystem\""));
}

}  // namespace
}  // namespace facegate::daemon
