#include "facegate/store/keyring.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <system_error>

#include "facegate/core/files.h"

namespace facegate::store {
namespace {

constexpr std::string_view kFingerprintLabel = "facegate template key fingerprint v1";

std::string Fingerprint(const uint8_t* key) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(TemplateKey::kBytes),
       reinterpret_cast<const unsigned char*>(kFingerprintLabel.data()), kFingerprintLabel.size(),
       mac, &mac_len);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < 16 && i < mac_len; ++i) {
    hex.push_back(kHex[mac[i] >> 4]);
    hex.push_back(kHex[mac[i] & 0xf]);
  }
  return hex;
}

// "template.key" -> 1, "template.<N>.key" (N >= 2) -> N, anything else -> nothing.
std::optional<uint32_t> KeyIdFromFileName(std::string_view name) {
  if (name == "template.key") return 1;
  constexpr std::string_view kPrefix = "template.";
  constexpr std::string_view kSuffix = ".key";
  if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  std::string_view digits =
      name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  uint32_t id = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || id < 2 || digits[0] == '0') {
    return std::nullopt;
  }
  return id;
}

Status WriteNewKey(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    return Status::AlreadyExists("the key file " + file.string() + " exists; not replacing it");
  }
  std::array<uint8_t, TemplateKey::kBytes> key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return Status::Internal("no randomness for a template key");
  }
  Status s = WriteFileAtomically(
      file, std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), 0600);
  OPENSSL_cleanse(key.data(), key.size());
  return s;
}

}  // namespace

TemplateKey::TemplateKey(uint32_t id, const uint8_t* bytes, std::filesystem::path file)
    : id_(id), file_(std::move(file)) {
  std::copy(bytes, bytes + kBytes, bytes_.begin());
  fingerprint_ = Fingerprint(bytes_.data());
}

TemplateKey::~TemplateKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

std::string Keyring::KeyFileName(uint32_t id) {
  return id == 1 ? "template.key" : "template." + std::to_string(id) + ".key";
}

Result<Keyring> Keyring::Load(const std::filesystem::path& dir) {
  Keyring ring;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return ring;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec)
    return Status::IOError("cannot list the key directory " + dir.string() + ": " + ec.message());
  for (const auto& entry : it) {
    std::optional<uint32_t> id = KeyIdFromFileName(entry.path().filename().string());
    if (!id) continue;
    const std::filesystem::path& file = entry.path();
    struct stat st;
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::FailedPrecondition("the template key " + file.string() +
                                        " is not a readable regular file");
    }
    if ((st.st_mode & S_IRWXO) != 0) {
      return Status::FailedPrecondition("the template key " + file.string() +
                                        " is accessible to other users; chmod 600 it");
    }
    if (st.st_size != static_cast<off_t>(TemplateKey::kBytes)) {
      return Status::Corruption("the template key " + file.string() + " is not 32 bytes (" +
                                std::to_string(st.st_size) + "); it is damaged or not a key");
    }
    Result<std::string> bytes = ReadFile(file, TemplateKey::kBytes + 1);
    if (!bytes.ok()) return bytes.status().WithContext("template key");
    if (bytes->size() != TemplateKey::kBytes) {
      return Status::Corruption("the template key " + file.string() + " is not 32 bytes");
    }
    ring.keys_.push_back(
        std::make_unique<TemplateKey>(*id, reinterpret_cast<const uint8_t*>(bytes->data()), file));
    OPENSSL_cleanse(bytes->data(), bytes->size());
  }
  std::sort(ring.keys_.begin(), ring.keys_.end(),
            [](const auto& a, const auto& b) { return a->id() < b->id(); });
  return ring;
}

Keyring Keyring::FromKeys(const std::vector<std::pair<uint32_t, std::array<uint8_t, 32>>>& keys) {
  Keyring ring;
  for (const auto& [id, bytes] : keys) {
    ring.keys_.push_back(std::make_unique<TemplateKey>(id, bytes.data(), std::filesystem::path()));
  }
  std::sort(ring.keys_.begin(), ring.keys_.end(),
            [](const auto& a, const auto& b) { return a->id() < b->id(); });
  return ring;
}

Status Keyring::EnsureFirstKey(const std::filesystem::path& dir) {
  FACEGATE_RETURN_IF_ERROR(EnsureDirectory(dir, 0700));
  Result<Keyring> ring = Load(dir);
  if (!ring.ok()) return ring.status();
  if (!ring->empty()) return Status::Ok();
  return WriteNewKey(dir / KeyFileName(1));
}

Result<uint32_t> Keyring::CreateNextKey(const std::filesystem::path& dir) {
  FACEGATE_RETURN_IF_ERROR(EnsureDirectory(dir, 0700));
  Result<Keyring> ring = Load(dir);
  if (!ring.ok()) return ring.status();
  const uint32_t id = ring->empty() ? 1 : ring->current()->id() + 1;
  FACEGATE_RETURN_IF_ERROR(WriteNewKey(dir / KeyFileName(id)));
  return id;
}

Status Keyring::GenerateKeyFile(const std::filesystem::path& file) { return WriteNewKey(file); }

const TemplateKey* Keyring::Find(uint32_t id) const {
  for (const auto& key : keys_) {
    if (key->id() == id) return key.get();
  }
  return nullptr;
}

std::vector<uint32_t> Keyring::ids() const {
  std::vector<uint32_t> out;
  for (const auto& key : keys_) out.push_back(key->id());
  return out;
}

}  // namespace facegate::store
