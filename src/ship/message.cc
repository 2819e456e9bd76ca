#include "facegate/ship/message.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <pugixml.hpp>

namespace facegate::ship {
namespace {

// ---------------------------------------------------------------- text encodings

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The encoding named by the XML declaration, lower case; "" when there is none.
std::string DeclaredEncoding(std::string_view xml) {
  if (xml.rfind("<?xml", 0) != 0) return "";
  const size_t end = xml.find("?>");
  if (end == std::string_view::npos) return "";
  std::string_view decl = xml.substr(0, end);
  const size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return "";
  size_t i = at + 8;
  while (i < decl.size() && (decl[i] == ' ' || decl[i] == '=' || decl[i] == '\t')) ++i;
  if (i >= decl.size() || (decl[i] != '"' && decl[i] != '\'')) return "";
  const char quote = decl[i];
  const size_t close = decl.find(quote, i + 1);
  if (close == std::string_view::npos) return "";
  return Lower(decl.substr(i + 1, close - i - 1));
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Windows-1252's 0x80..0x9F (0: unassigned); the rest of it is ISO-8859-1.
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

Result<std::string> SingleByteToUtf8(std::string_view in, bool cp1252) {
  std::string out;
  out.reserve(in.size() + in.size() / 8);
  for (size_t i = 0; i < in.size(); ++i) {
    const auto b = static_cast<unsigned char>(in[i]);
    uint32_t cp = b;
    if (cp1252 && b >= 0x80 && b < 0xA0) {
      cp = kCp1252High[b - 0x80];
      if (cp == 0) {
        return Status::InvalidArgument("byte 0x" + std::string(1, "0123456789ABCDEF"[b >> 4]) +
                                       std::string(1, "0123456789ABCDEF"[b & 15]) + " at offset " +
                                       std::to_string(i) + " is not a windows-1252 character");
      }
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

// The offset of the first byte that is not part of valid UTF-8, or npos.
size_t InvalidUtf8At(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

// The document as UTF-8, whatever of UTF-8, US-ASCII, ISO-8859-1 or windows-1252 it declares.
Result<std::string> ToUtf8(std::string_view xml) {
  if (xml.size() >= 3 && xml.substr(0, 3) == "\xEF\xBB\xBF") xml.remove_prefix(3);
  if (xml.size() >= 2 &&
      ((xml[0] == '\xFE' && xml[1] == '\xFF') || (xml[0] == '\xFF' && xml[1] == '\xFE'))) {
    return Status::InvalidArgument("UTF-16 XML is not supported (UTF-8 or ISO-8859-1 expected)");
  }
  const std::string enc = DeclaredEncoding(xml);
  if (enc.empty() || enc == "utf-8" || enc == "utf8" || enc == "us-ascii" || enc == "ascii") {
    if (size_t bad = InvalidUtf8At(xml); bad != std::string_view::npos) {
      return Status::InvalidArgument("not valid UTF-8 at byte " + std::to_string(bad) +
                                     (enc.empty() ? " (no encoding declared)" : ""));
    }
    return std::string(xml);
  }
  if (enc == "iso-8859-1" || enc == "iso8859-1" || enc == "latin1" || enc == "latin-1" ||
      enc == "l1" || enc == "iso_8859-1") {
    return SingleByteToUtf8(xml, /*cp1252=*/false);
  }
  if (enc == "windows-1252" || enc == "cp1252") return SingleByteToUtf8(xml, /*cp1252=*/true);
  return Status::InvalidArgument("unsupported XML encoding '" + enc +
                                 "' (UTF-8, ISO-8859-1 or windows-1252 expected)");
}

// ---------------------------------------------------------------- XML <-> Element

std::string TextOfNode(const pugi::xml_node& node) {
  std::string text;
  for (const auto& child : node.children()) {
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      text += child.value();
    }
  }
  return text;
}

struct Walk {
  const DecodeLimits& limits;
  size_t elements = 0;
  Status error;

  bool Convert(const pugi::xml_node& node, int depth, Element* out) {
    if (depth > limits.max_depth) {
      error = Status::InvalidArgument("elements nested deeper than " +
                                      std::to_string(limits.max_depth) + " levels");
      return false;
    }
    if (++elements > limits.max_elements) {
      error =
          Status::InvalidArgument("more than " + std::to_string(limits.max_elements) + " elements");
      return false;
    }
    out->name = node.name();
    out->text = TextOfNode(node);
    for (const auto& child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      out->children.emplace_back();
      if (!Convert(child, depth + 1, &out->children.back())) return false;
    }
    return true;
  }
};

struct Envelope {
  std::string name;
  Element params{"Params"};
  std::optional<ShipException> exception;
};

Result<Envelope> DecodeEnvelope(std::string_view xml, std::string_view root_name,
                                const DecodeLimits& limits) {
  if (xml.size() > limits.max_bytes) {
    return Status::InvalidArgument("the message has " + std::to_string(xml.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(limits.max_bytes));
  }
  if (xml.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("the message is empty");
  }
  auto utf8 = ToUtf8(xml);
  if (!utf8.ok()) return utf8.status();
  pugi::xml_document doc;
  // parse_default: CDATA, the five entities and character references, attribute and
  // end-of-line normalisation; no DOCTYPE node and nothing of a DTD is ever applied.
  pugi::xml_parse_result parsed =
      doc.load_buffer(utf8->data(), utf8->size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return Status::InvalidArgument("malformed XML at byte " + std::to_string(parsed.offset) + ": " +
                                   parsed.description());
  }
  pugi::xml_node root = doc.document_element();
  if (!root) return Status::InvalidArgument("no root element");
  if (std::string_view(root.name()) != root_name) {
    return Status::InvalidArgument("expected a <" + std::string(root_name) + "> element, got <" +
                                   root.name() + ">");
  }
  Walk walk{limits};
  Element tree;
  if (!walk.Convert(root, 0, &tree)) return walk.error;

  Envelope out;
  const Element* name = tree.Find("RequestName");
  if (!name || name->text.empty()) {
    return Status::InvalidArgument("<" + std::string(root_name) + "> has no <RequestName>");
  }
  out.name = name->text;
  if (const Element* params = tree.Find("Params")) out.params = *params;
  if (const Element* ex = tree.Find("Exception")) {
    ShipException e;
    const std::string_view code = ex->TextOf("Code");
    auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), e.code);
    if (ec != std::errc() || ptr != code.data() + code.size()) {
      return Status::InvalidArgument("<Exception> has no numeric <Code> (got '" +
                                     std::string(code) + "')");
    }
    e.message = std::string(ex->TextOf("Message"));
    out.exception = std::move(e);
  }
  return out;
}

void AppendElement(const Element& e, pugi::xml_node* parent) {
  pugi::xml_node node = parent->append_child(e.name.c_str());
  if (!e.text.empty()) node.append_child(pugi::node_pcdata).set_value(e.text.c_str());
  for (const auto& child : e.children) AppendElement(child, &node);
}

struct StringWriter : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

std::string EncodeEnvelope(std::string_view root_name, const std::string& name,
                           const Element& params, const std::optional<ShipException>& exception) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child(std::string(root_name).c_str());
  root.append_child("RequestName").append_child(pugi::node_pcdata).set_value(name.c_str());
  if (exception) {
    pugi::xml_node ex = root.append_child("Exception");
    ex.append_child("Code")
        .append_child(pugi::node_pcdata)
        .set_value(std::to_string(exception->code).c_str());
    ex.append_child("Message")
        .append_child(pugi::node_pcdata)
        .set_value(exception->message.c_str());
  } else {
    Element p = params;
    p.name = "Params";
    AppendElement(p, &root);
  }
  StringWriter w;
  w.out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  doc.save(w, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  return std::move(w.out);
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int Number(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

// ---------------------------------------------------------------- Element

const Element* Element::Find(std::string_view child) const {
  for (const auto& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

std::vector<const Element*> Element::FindAll(std::string_view child) const {
  std::vector<const Element*> out;
  for (const auto& c : children) {
    if (c.name == child) out.push_back(&c);
  }
  return out;
}

std::string_view Element::TextOf(std::string_view child, std::string_view fallback) const {
  const Element* c = Find(child);
  return c ? std::string_view(c->text) : fallback;
}

Element& Element::Add(std::string child, std::string child_text) {
  children.emplace_back(std::move(child), std::move(child_text));
  return children.back();
}

// ---------------------------------------------------------------- envelopes

std::string Encode(const RequestCall& call) {
  return EncodeEnvelope("RequestCall", call.name, call.params, std::nullopt);
}

std::string Encode(const RequestResponse& response) {
  return EncodeEnvelope("RequestResponse", response.name, response.params, response.exception);
}

Result<RequestCall> DecodeRequestCall(std::string_view xml, const DecodeLimits& limits) {
  auto e = DecodeEnvelope(xml, "RequestCall", limits);
  if (!e.ok()) return e.status();
  RequestCall out;
  out.name = std::move(e->name);
  out.params = std::move(e->params);
  return out;
}

Result<RequestResponse> DecodeRequestResponse(std::string_view xml, const DecodeLimits& limits) {
  auto e = DecodeEnvelope(xml, "RequestResponse", limits);
  if (!e.ok()) return e.status();
  RequestResponse out;
  out.name = std::move(e->name);
  out.params = std::move(e->params);
  out.exception = std::move(e->exception);
  return out;
}

// ---------------------------------------------------------------- errors

std::string ErrorCodeText(int code) {
  switch (code) {
    case error_code::kOk:
      return "ok";
    case error_code::kNotFound:
      return "not found";
    case error_code::kInvalidParameter:
      return "invalid parameter";
    case error_code::kDoorNotFound:
      return "door not found";
    case error_code::kUserNotFound:
      return "user not found";
    case error_code::kXmlError:
      return "XML error";
    case error_code::kXmlMalformed:
      return "malformed XML";
    case error_code::kUnknownRequest:
      return "unknown request";
    case error_code::kXmlBadParameters:
      return "bad XML parameters";
    default:
      return "error code " + std::to_string(code);
  }
}

Status StatusOf(const ShipException& exception, std::string_view request) {
  std::string message = "Salto Space refused " + std::string(request) + ": " +
                        ErrorCodeText(exception.code) + " (code " + std::to_string(exception.code) +
                        ")";
  if (!exception.message.empty()) message += ": " + exception.message;
  switch (exception.code) {
    case error_code::kNotFound:
    case error_code::kDoorNotFound:
    case error_code::kUserNotFound:
      return Status::NotFound(std::move(message));
    case error_code::kInvalidParameter:
    case error_code::kXmlError:
    case error_code::kXmlMalformed:
    case error_code::kUnknownRequest:
    case error_code::kXmlBadParameters:
      return Status::InvalidArgument(std::move(message));
    default:
      return Status::FailedPrecondition(std::move(message));
  }
}

// ---------------------------------------------------------------- values

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "1" || text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "0" || text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

std::string_view FormatBool(bool value) { return value ? "1" : "0"; }

std::optional<LocalDateTime> ParseDateTime(std::string_view s) {
  // yyyy-MM-ddTHH:mm:ss
  if (s.size() != 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  const std::string_view parts[] = {s.substr(0, 4),  s.substr(5, 2),  s.substr(8, 2),
                                    s.substr(11, 2), s.substr(14, 2), s.substr(17, 2)};
  for (auto p : parts) {
    if (!AllDigits(p)) return std::nullopt;
  }
  LocalDateTime t{Number(parts[0]), Number(parts[1]), Number(parts[2]),
                  Number(parts[3]), Number(parts[4]), Number(parts[5])};
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.hour > 23 || t.minute > 59 || t.second > 59) {
    return std::nullopt;
  }
  const bool leap = (t.year % 4 == 0 && t.year % 100 != 0) || t.year % 400 == 0;
  const int days = kDays[t.month - 1] + (t.month == 2 && leap ? 1 : 0);
  if (t.day > days) return std::nullopt;
  return t;
}

std::string FormatDateTime(const LocalDateTime& t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour,
                t.minute, t.second);
  return buf;
}

}  // namespace facegate::ship
