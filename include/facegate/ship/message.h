// The SHIP message model: the XML envelope Salto Space speaks (docs/ship.md).
//
//   <RequestCall><RequestName>N</RequestName><Params>...</Params></RequestCall>
//   <RequestResponse><RequestName>N</RequestName><Params>...</Params></RequestResponse>
//   <RequestResponse><RequestName>N</RequestName>
//     <Exception><Code>502</Code><Message>Unknown request</Message></Exception></RequestResponse>
//
// Parameters are a tree of named elements with text; the model keeps every element in
// document order, including those it does not know, so a message read and written again
// loses nothing and a newer Space server's extra fields never break a request. Decoding
// accepts UTF-8 and ISO-8859-1 (by the XML declaration) and gives UTF-8; encoding writes
// UTF-8. Document type declarations are skipped and entities other than the five XML ones
// and character references are never expanded (no external entities, no entity bombs).
// The transport lives apart (transport.h): this header knows nothing of sockets.
// Thread-safety: values; the functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::ship {

// One element: its name, its text (UTF-8; for a leaf) and its children in document order.
struct Element {
  std::string name;
  std::string text;
  std::vector<Element> children;

  Element() = default;
  explicit Element(std::string element_name, std::string element_text = "")
      : name(std::move(element_name)), text(std::move(element_text)) {}

  // The first child of that name, or nullptr.
  const Element* Find(std::string_view child) const;
  // Every child of that name, in order.
  std::vector<const Element*> FindAll(std::string_view child) const;
  // The text of the first child of that name; `fallback` when there is none.
  std::string_view TextOf(std::string_view child, std::string_view fallback = "") const;
  // Appends a child and returns it (the reference is valid until the next Add).
  Element& Add(std::string child, std::string child_text = "");

  bool operator==(const Element&) const = default;
};

// What Space said went wrong: <Exception><Code>..</Code><Message>..</Message></Exception>.
struct ShipException {
  int code = 0;
  std::string message;
};

struct RequestCall {
  std::string name;  // "GetInfo", "SaltoDBUserList.Read", ...
  Element params{"Params"};
};

struct RequestResponse {
  std::string name;
  Element params{"Params"};
  std::optional<ShipException> exception;
};

// Bounds a decoder holds a peer to: a hostile or broken server cannot exhaust memory or stack.
struct DecodeLimits {
  size_t max_bytes = 64u << 20;
  int max_depth = 32;             // elements nested below the root
  size_t max_elements = 4000000;  // in the whole document
};

// UTF-8, with an XML declaration, no indentation.
std::string Encode(const RequestCall& call);
std::string Encode(const RequestResponse& response);

// kInvalidArgument naming the problem (malformed XML with its byte offset, the wrong root
// element, no RequestName, a limit passed, an unsupported encoding).
Result<RequestCall> DecodeRequestCall(std::string_view xml, const DecodeLimits& limits = {});
Result<RequestResponse> DecodeRequestResponse(std::string_view xml,
                                              const DecodeLimits& limits = {});

// SHIP's error codes (those publicly documented).
namespace error_code {
inline constexpr int kOk = 0;
inline constexpr int kNotFound = 11;
inline constexpr int kInvalidParameter = 12;
inline constexpr int kDoorNotFound = 100;
inline constexpr int kUserNotFound = 200;
inline constexpr int kXmlError = 500;  // 500..503: the request's XML was not understood
inline constexpr int kXmlMalformed = 501;
inline constexpr int kUnknownRequest = 502;
inline constexpr int kXmlBadParameters = 503;
}  // namespace error_code

// "door not found" for 100, ...; "error code N" for a code not documented.
std::string ErrorCodeText(int code);

// What an Exception means for the caller: kNotFound (11, 100, 200), kInvalidArgument (12,
// 500-503), kFailedPrecondition (other codes: Space refused). The message names the request,
// the code and Space's own message.
Status StatusOf(const ShipException& exception, std::string_view request);

// SHIP's value conventions: booleans 0/1 (also true/false), dates yyyy-MM-ddTHH:mm:ss in the
// Space server's local time.
std::optional<bool> ParseBool(std::string_view text);
std::string_view FormatBool(bool value);

struct LocalDateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  bool operator==(const LocalDateTime&) const = default;
  auto operator<=>(const LocalDateTime&) const = default;
};
// nullopt for anything but a valid yyyy-MM-ddTHH:mm:ss (a trailing fraction or zone is
// refused: SHIP sends neither).
std::optional<LocalDateTime> ParseDateTime(std::string_view text);
std::string FormatDateTime(const LocalDateTime& t);

}  // namespace facegate::ship
