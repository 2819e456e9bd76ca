// Commissioning codes: the one-time codes an admin hands to a door terminal (as text or in a
// QR code) so that it may ask for its first certificate.
//
// A code is 10 characters of Crockford's base32 alphabet (0-9 and A-Z without I, L, O, U:
// 50 random bits), shown grouped as "XXXXX-XXXXX". What a person types back is read
// leniently: case, spaces and hyphens do not matter, and O, I and L read as 0, 1 and 1.
// The store never sees a code, only its HMAC-SHA256 under a secret of the server's, so a
// copy of the database does not give away a code that is still valid, and a guess can only
// be checked by the server that holds the secret (guess limiting is the HTTP layer's job).
// Thread-safety: free functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "facegate/core/status.h"

namespace facegate::store {

inline constexpr int kCommissioningCodeLength = 10;  // characters, without the hyphen
inline constexpr size_t kCommissioningCodeHashBytes = 32;
// The shortest server secret accepted: 128 bits.
inline constexpr size_t kMinCommissioningSecretBytes = 16;

// A fresh random code in its display form, "XXXXX-XXXXX".
Result<std::string> GenerateCommissioningCode();

// The canonical form of a typed code: 10 upper-case alphabet characters, no separators.
// InvalidArgument when it is not a code (wrong length, a character outside the alphabet).
Result<std::string> NormalizeCommissioningCode(std::string_view typed);

// HMAC-SHA256(secret, "facegate commissioning code v1\n" + canonical code): 32 raw bytes,
// what NewCommissioningCode::code_hash and Store::RedeemCommissioningCode take. Accepts the
// code in any form NormalizeCommissioningCode reads. InvalidArgument for a malformed code
// or a secret shorter than kMinCommissioningSecretBytes.
Result<std::string> HashCommissioningCode(std::string_view code, std::string_view secret);

}  // namespace facegate::store
