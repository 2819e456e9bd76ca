#include "facegate/store/commissioning.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>

namespace facegate::store {
namespace {

// Crockford's base32: no I, L, O, U, so a code read aloud or off a screen is not misread.
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static_assert(sizeof kAlphabet - 1 == 32);
// Binds the hash to its purpose: the same secret used for something else never yields a
// value that passes for a commissioning code's hash.
constexpr std::string_view kHashContext = "facegate commissioning code v1\n";

// The canonical character for `c`, or '\0' when it is not part of a code.
char Canonical(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c == 'O') return '0';
  if (c == 'I' || c == 'L') return '1';
  for (const char* a = kAlphabet; *a != '\0'; ++a) {
    if (*a == c) return c;
  }
  return '\0';
}

}  // namespace

Result<std::string> GenerateCommissioningCode() {
  unsigned char random[kCommissioningCodeLength];
  if (RAND_bytes(random, sizeof random) != 1) {
    return Status::Internal("no randomness for a commissioning code");
  }
  std::string out;
  for (int i = 0; i < kCommissioningCodeLength; ++i) {
    if (i == kCommissioningCodeLength / 2) out += '-';
    out += kAlphabet[random[i] & 0x1f];  // 256 is a multiple of 32: uniform
  }
  return out;
}

Result<std::string> NormalizeCommissioningCode(std::string_view typed) {
  std::string out;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    char canonical = Canonical(c);
    if (canonical == '\0') {
      return Status::InvalidArgument(
          "not a commissioning code: it contains a character other than 0-9, A-Z and '-'");
    }
    out += canonical;
    if (out.size() > static_cast<size_t>(kCommissioningCodeLength)) break;
  }
  if (out.size() != static_cast<size_t>(kCommissioningCodeLength)) {
    return Status::InvalidArgument("not a commissioning code: it must have " +
                                   std::to_string(kCommissioningCodeLength) + " characters");
  }
  return out;
}

Result<std::string> HashCommissioningCode(std::string_view code, std::string_view secret) {
  if (secret.size() < kMinCommissioningSecretBytes) {
    return Status::InvalidArgument("the commissioning secret must be at least " +
                                   std::to_string(kMinCommissioningSecretBytes) + " bytes");
  }
  Result<std::string> canonical = NormalizeCommissioningCode(code);
  if (!canonical.ok()) return canonical.status();
  std::string message(kHashContext);
  message += *canonical;
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
                sizeof mac, &mac_len) == nullptr ||
      mac_len != kCommissioningCodeHashBytes) {
    return Status::Internal("HMAC-SHA256 of a commissioning code failed");
  }
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

}  // namespace facegate::store
