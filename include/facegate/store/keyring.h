// Keyring: the AES-256 keys that encrypt face templates at rest.
//
// Keys are files of exactly 32 random bytes, outside the database on purpose (a backup of
// the database never contains them; they are backed up apart). In a key directory, key 1 is
// `template.key` (the file facegated has always created) and key N > 1 is `template.<N>.key`.
// The key with the highest id is the current one: new templates are encrypted with it, and
// `Store::RotateKey` re-encrypts older templates to it. Each key has a fingerprint (an HMAC of a
// fixed label under the key; it reveals nothing of the key) that the database records, so a
// wrong key file is refused at start-up with a message instead of failing row by row.
// Key bytes are wiped from memory when the keyring is destroyed.
// Thread-safety: a loaded Keyring is immutable and safe to share; the static functions touch
// files and must not race with each other on the same directory.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::store {

class TemplateKey {
 public:
  static constexpr size_t kBytes = 32;
  TemplateKey(uint32_t id, const uint8_t* bytes, std::filesystem::path file);
  ~TemplateKey();
  TemplateKey(const TemplateKey&) = delete;
  TemplateKey& operator=(const TemplateKey&) = delete;

  uint32_t id() const { return id_; }
  const uint8_t* bytes() const { return bytes_.data(); }
  const std::string& fingerprint() const { return fingerprint_; }  // 32 hex digits
  const std::filesystem::path& file() const { return file_; }

 private:
  uint32_t id_;
  std::array<uint8_t, kBytes> bytes_;
  std::string fingerprint_;
  std::filesystem::path file_;
};

class Keyring {
 public:
  Keyring() = default;
  Keyring(Keyring&&) noexcept = default;
  Keyring& operator=(Keyring&&) noexcept = default;

  // Reads every key file of `dir`. A key file of the wrong size, not a regular file, or
  // readable by others is an error; an empty directory gives an empty keyring.
  static Result<Keyring> Load(const std::filesystem::path& dir);
  // Builds a keyring from raw keys (tests, tools).
  static Keyring FromKeys(const std::vector<std::pair<uint32_t, std::array<uint8_t, 32>>>& keys);

  // What the daemon calls at --init and at start-up (it replaces EnsureTemplateKey): creates
  // `dir` (0700) and key 1 (`template.key`, 0600) when the directory holds no key yet; checks
  // the existing keys otherwise. Never replaces a key.
  static Status EnsureFirstKey(const std::filesystem::path& dir);
  // Writes a new random key with the next id into `dir` (0600); returns its id.
  static Result<uint32_t> CreateNextKey(const std::filesystem::path& dir);
  // Writes a new random key to `file` (0600), e.g. to be given as a systemd credential.
  static Status GenerateKeyFile(const std::filesystem::path& file);
  // The file name of key `id` in a key directory.
  static std::string KeyFileName(uint32_t id);

  bool empty() const { return keys_.empty(); }
  // The key new templates are encrypted with (the highest id); null when empty.
  const TemplateKey* current() const { return keys_.empty() ? nullptr : keys_.back().get(); }
  const TemplateKey* Find(uint32_t id) const;
  std::vector<uint32_t> ids() const;

 private:
  std::vector<std::unique_ptr<TemplateKey>> keys_;  // sorted by id
};

}  // namespace facegate::store
