// TemplateCipher: AES-256-GCM sealing of face templates (OpenSSL EVP), private to src/store.
//
// Plaintext: the embedding as little-endian float32. Nonce: 12 random bytes per seal (a new
// nonce for every write, including re-encryption). Tag: 16 bytes. Associated data: a format
// label, the template id, the user id, the key id and the model version, so a row moved to
// another user or relabelled as another model fails authentication.
// Thread-safety: none; one TemplateCipher per thread (it keeps an EVP context for speed).
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/status.h"
#include "facegate/store/keyring.h"

namespace facegate::store::internal {

struct TemplateAad {
  int64_t template_id = 0;
  int64_t user_id = 0;
  uint32_t key_id = 0;
  std::string_view model_version;
};

// The photo a template was enrolled from (kept only when configured): sealed like a
// template, under its own label, bound to the template id, user id, key id and media type.
struct PhotoAad {
  int64_t template_id = 0;
  int64_t user_id = 0;
  uint32_t key_id = 0;
  std::string_view media_type;
};

struct SealedTemplate {
  std::array<uint8_t, 12> nonce{};
  std::vector<uint8_t> ciphertext;
  std::array<uint8_t, 16> tag{};
};

class TemplateCipher {
 public:
  TemplateCipher();
  ~TemplateCipher();
  TemplateCipher(const TemplateCipher&) = delete;
  TemplateCipher& operator=(const TemplateCipher&) = delete;

  // Encrypts `values` with `key` (whose id must equal aad.key_id) and a fresh random nonce.
  Status Seal(const TemplateKey& key, const TemplateAad& aad, std::span<const float> values,
              SealedTemplate* out);

  // Decrypts into `out` (ciphertext.size() / 4 floats). Any mismatch of key, nonce,
  // ciphertext, tag or associated data is Corruption naming the template id.
  Status Open(const TemplateKey& key, const TemplateAad& aad, std::span<const uint8_t> nonce,
              std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag, float* out);

  Status SealPhoto(const TemplateKey& key, const PhotoAad& aad, std::span<const uint8_t> bytes,
                   SealedTemplate* out);
  // Decrypts into `out` (resized); mismatches are Corruption naming the photo's template.
  Status OpenPhoto(const TemplateKey& key, const PhotoAad& aad, std::span<const uint8_t> nonce,
                   std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                   std::vector<uint8_t>* out);

  // A secret of an integration's settings (e.g. the SHIP key), bound to `name` (the
  // integration and the setting, "space/api_key") and the key id.
  Status SealSetting(const TemplateKey& key, std::string_view name, std::string_view plain,
                     SealedTemplate* out);
  Status OpenSetting(const TemplateKey& key, std::string_view name, std::span<const uint8_t> nonce,
                     std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                     std::string* out);

 private:
  Status SealBytes(const TemplateKey& key, uint32_t aad_key_id, const uint8_t* data, size_t size,
                   const std::string& name, SealedTemplate* out);
  Status OpenBytes(const TemplateKey& key, std::span<const uint8_t> nonce,
                   std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag, uint8_t* out,
                   const std::string& name);

  // One context per direction, keyed once: per template only the nonce changes (setting up
  // AES-GCM from scratch costs more than decrypting a 512-byte template).
  struct Context {
    EVP_CIPHER_CTX* ctx = nullptr;
    std::array<uint8_t, TemplateKey::kBytes> key{};  // the key ctx is set up with
    bool keyed = false;
  };
  bool Prepare(Context& c, const TemplateKey& key, bool encrypt, const uint8_t* nonce);

  Context enc_;
  Context dec_;
  std::string aad_;  // scratch
};

}  // namespace facegate::store::internal
