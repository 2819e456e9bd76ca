#include "store/template_cipher.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <bit>
#include <cstring>

namespace facegate::store::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "templates are stored as little-endian float32");

constexpr std::string_view kAadLabel = "facegate-template-v1";
constexpr std::string_view kPhotoAadLabel = "facegate-photo-v1";
constexpr std::string_view kSettingAadLabel = "facegate-setting-v1";

void AppendBigEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// label || template id (8) || user id (8) || key id (4) || text length (4) || text, where
// the text is the model version (templates) or the media type (photos).
void BuildAad(std::string_view label, int64_t template_id, int64_t user_id, uint32_t key_id,
              std::string_view text, std::string* out) {
  out->clear();
  out->append(label);
  AppendBigEndian(out, static_cast<uint64_t>(template_id), 8);
  AppendBigEndian(out, static_cast<uint64_t>(user_id), 8);
  AppendBigEndian(out, key_id, 4);
  AppendBigEndian(out, text.size(), 4);
  out->append(text);
}

std::string TemplateName(const TemplateAad& aad) {
  return "template " + std::to_string(aad.template_id) + " (user " + std::to_string(aad.user_id) +
         ", key " + std::to_string(aad.key_id) + ")";
}

std::string PhotoName(const PhotoAad& aad) {
  return "the photo of template " + std::to_string(aad.template_id) + " (user " +
         std::to_string(aad.user_id) + ", key " + std::to_string(aad.key_id) + ")";
}

}  // namespace

TemplateCipher::TemplateCipher() {
  enc_.ctx = EVP_CIPHER_CTX_new();
  dec_.ctx = EVP_CIPHER_CTX_new();
}

TemplateCipher::~TemplateCipher() {
  for (Context* c : {&enc_, &dec_}) {
    EVP_CIPHER_CTX_free(c->ctx);
    OPENSSL_cleanse(c->key.data(), c->key.size());
  }
}

bool TemplateCipher::Prepare(Context& c, const TemplateKey& key, bool encrypt,
                             const uint8_t* nonce) {
  if (c.ctx == nullptr) return false;
  if (!c.keyed || CRYPTO_memcmp(c.key.data(), key.bytes(), c.key.size()) != 0) {
    c.keyed = false;
    if (EVP_CipherInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
        EVP_CipherInit_ex(c.ctx, nullptr, nullptr, key.bytes(), nullptr, encrypt) != 1) {
      return false;
    }
    std::memcpy(c.key.data(), key.bytes(), c.key.size());
    c.keyed = true;
  }
  // The key schedule stays; a new nonce starts a new message.
  return EVP_CipherInit_ex(c.ctx, nullptr, nullptr, nullptr, nonce, encrypt) == 1;
}

Status TemplateCipher::SealBytes(const TemplateKey& key, uint32_t aad_key_id, const uint8_t* data,
                                 size_t size, const std::string& name, SealedTemplate* out) {
  if (key.id() != aad_key_id) return Status::Internal("sealing with a key other than aad.key_id");
  if (RAND_bytes(out->nonce.data(), static_cast<int>(out->nonce.size())) != 1) {
    return Status::Internal("no randomness for a nonce");
  }
  out->ciphertext.resize(size);
  int len = 0;
  EVP_CIPHER_CTX* ctx = enc_.ctx;
  bool ok =
      Prepare(enc_, key, /*encrypt=*/true, out->nonce.data()) &&
      EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(aad_.data()),
                        static_cast<int>(aad_.size())) == 1 &&
      EVP_EncryptUpdate(ctx, out->ciphertext.data(), &len, data, static_cast<int>(size)) == 1 &&
      EVP_EncryptFinal_ex(ctx, out->ciphertext.data() + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out->tag.data()) == 1;
  if (!ok) return Status::Internal("AES-256-GCM encryption failed for " + name);
  return Status::Ok();
}

Status TemplateCipher::OpenBytes(const TemplateKey& key, std::span<const uint8_t> nonce,
                                 std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                                 uint8_t* out, const std::string& name) {
  if (nonce.size() != 12 || tag.size() != 16) {
    return Status::Corruption(name + " is malformed (nonce or tag length)");
  }
  int len = 0;
  EVP_CIPHER_CTX* ctx = dec_.ctx;
  bool ok =
      Prepare(dec_, key, /*encrypt=*/false, nonce.data()) &&
      EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(aad_.data()),
                        static_cast<int>(aad_.size())) == 1 &&
      EVP_DecryptUpdate(ctx, out, &len, ciphertext.data(), static_cast<int>(ciphertext.size())) ==
          1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, const_cast<uint8_t*>(tag.data())) == 1;
  // The tag is checked by the final call; nothing decrypted may be used before it passes.
  if (ok) ok = EVP_DecryptFinal_ex(ctx, out + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out, ciphertext.size());
    return Status::Corruption(
        name +
        " failed authentication: it was altered, moved to another user, or the key is "
        "wrong");
  }
  return Status::Ok();
}

Status TemplateCipher::Seal(const TemplateKey& key, const TemplateAad& aad,
                            std::span<const float> values, SealedTemplate* out) {
  BuildAad(kAadLabel, aad.template_id, aad.user_id, aad.key_id, aad.model_version, &aad_);
  return SealBytes(key, aad.key_id, reinterpret_cast<const uint8_t*>(values.data()),
                   values.size() * sizeof(float), TemplateName(aad), out);
}

Status TemplateCipher::Open(const TemplateKey& key, const TemplateAad& aad,
                            std::span<const uint8_t> nonce, std::span<const uint8_t> ciphertext,
                            std::span<const uint8_t> tag, float* out) {
  if (ciphertext.size() % sizeof(float) != 0) {
    return Status::Corruption(TemplateName(aad) + " is malformed (length)");
  }
  BuildAad(kAadLabel, aad.template_id, aad.user_id, aad.key_id, aad.model_version, &aad_);
  return OpenBytes(key, nonce, ciphertext, tag, reinterpret_cast<uint8_t*>(out), TemplateName(aad));
}

Status TemplateCipher::SealPhoto(const TemplateKey& key, const PhotoAad& aad,
                                 std::span<const uint8_t> bytes, SealedTemplate* out) {
  BuildAad(kPhotoAadLabel, aad.template_id, aad.user_id, aad.key_id, aad.media_type, &aad_);
  return SealBytes(key, aad.key_id, bytes.data(), bytes.size(), PhotoName(aad), out);
}

Status TemplateCipher::OpenPhoto(const TemplateKey& key, const PhotoAad& aad,
                                 std::span<const uint8_t> nonce,
                                 std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                                 std::vector<uint8_t>* out) {
  BuildAad(kPhotoAadLabel, aad.template_id, aad.user_id, aad.key_id, aad.media_type, &aad_);
  out->resize(ciphertext.size());
  Status s = OpenBytes(key, nonce, ciphertext, tag, out->data(), PhotoName(aad));
  if (!s.ok()) out->clear();
  return s;
}

Status TemplateCipher::SealSetting(const TemplateKey& key, std::string_view name,
                                   std::string_view plain, SealedTemplate* out) {
  BuildAad(kSettingAadLabel, 0, 0, key.id(), name, &aad_);
  return SealBytes(key, key.id(), reinterpret_cast<const uint8_t*>(plain.data()), plain.size(),
                   "setting " + std::string(name), out);
}

Status TemplateCipher::OpenSetting(const TemplateKey& key, std::string_view name,
                                   std::span<const uint8_t> nonce,
                                   std::span<const uint8_t> ciphertext,
                                   std::span<const uint8_t> tag, std::string* out) {
  BuildAad(kSettingAadLabel, 0, 0, key.id(), name, &aad_);
  out->assign(ciphertext.size(), '\0');
  Status s = OpenBytes(key, nonce, ciphertext, tag, reinterpret_cast<uint8_t*>(out->data()),
                       "setting " + std::string(name));
  if (!s.ok()) out->clear();
  return s;
}

}  // namespace facegate::store::internal
