#include "facegate/core/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace facegate {
namespace {

mode_t ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(FilesTest, WriteAtomicallyCreatesWithModeAndReplaces) {
  testing::TempDir dir;
  auto file = dir / "secret.key";
  ASSERT_TRUE(WriteFileAtomically(file, "first", 0600).ok());
  EXPECT_EQ(ModeOf(file), 0600u);
  ASSERT_TRUE(WriteFileAtomically(file, "second", 0640).ok());
  EXPECT_EQ(ModeOf(file), 0640u);
  auto text = ReadFile(file);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "second");
  EXPECT_FALSE(std::filesystem::exists(dir / "secret.key.new"));
}

TEST(FilesTest, WriteIntoMissingDirectoryFailsWithPath) {
  testing::TempDir dir;
  Status s = WriteFileAtomically(dir / "no" / "such" / "file", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("file.new"), std::string::npos) << s.message();
}

TEST(FilesTest, ReadMissingFileIsNotFound) {
  testing::TempDir dir;
  auto r = ReadFile(dir / "absent");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(FilesTest, ReadRefusesFilesOverTheLimit) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "big", std::string(1000, 'x')).ok());
  auto r = ReadFile(dir / "big", 999);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ReadFile(dir / "big", 1000).ok());
}

TEST(FilesTest, EnsureDirectoryCreatesSetsModeAndRejectsFiles) {
  testing::TempDir dir;
  auto sub = dir / "a" / "b";
  ASSERT_TRUE(EnsureDirectory(sub, 0700).ok());
  EXPECT_EQ(ModeOf(sub), 0700u);
  ASSERT_TRUE(EnsureDirectory(sub, 0750).ok());  // existing: mode corrected
  EXPECT_EQ(ModeOf(sub), 0750u);
  std::ofstream(dir / "plain") << "x";
  Status s = EnsureDirectory(dir / "plain", 0700);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace facegate
