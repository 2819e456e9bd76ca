#include "face/image_decode.h"

#include <cstdio>
#include <opencv2/imgcodecs.hpp>

namespace facegate::face {
namespace {

constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

uint8_t At(std::string_view b, size_t i) { return static_cast<uint8_t>(b[i]); }
uint32_t Be16(std::string_view b, size_t i) { return (At(b, i) << 8) | At(b, i + 1); }
uint32_t Be32(std::string_view b, size_t i) {
  return (uint32_t{At(b, i)} << 24) | (uint32_t{At(b, i + 1)} << 16) |
         (uint32_t{At(b, i + 2)} << 8) | At(b, i + 3);
}

bool IsJpeg(std::string_view b) { return b.size() >= 3 && At(b, 0) == 0xFF && At(b, 1) == 0xD8; }
bool IsPng(std::string_view b) {
  return b.size() >= 8 && std::equal(kPngSignature, kPngSignature + 8, b.begin(),
                                     [](unsigned char a, char c) { return a == uint8_t(c); });
}

bool IsSof(uint8_t m) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

// Walks the JPEG's segments from SOI. Stops at the first SOF when `header` is set and
// `to_end` is false; otherwise walks through the entropy-coded scans to EOI.
bool WalkJpeg(std::string_view b, bool to_end, ImageHeader* header, std::string* message) {
  size_t pos = 2;
  const size_t n = b.size();
  bool have_sof = false;
  auto truncated = [&](const char* where) {
    *message = std::string("truncated JPEG: the data ends ") + where + " (" + std::to_string(n) +
               " bytes)";
    return false;
  };
  while (true) {
    if (pos >= n) return truncated("before the end-of-image marker");
    if (At(b, pos) != 0xFF) {
      *message = "corrupt JPEG: no marker at byte " + std::to_string(pos);
      return false;
    }
    while (pos < n && At(b, pos) == 0xFF) ++pos;  // fill bytes
    if (pos >= n) return truncated("inside a marker");
    const uint8_t marker = At(b, pos++);
    if (marker == 0xD9) {  // EOI
      if (!have_sof) {
        *message = "corrupt JPEG: no frame header before the end-of-image marker";
        return false;
      }
      return true;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (marker == 0xD8 || marker == 0x00) {
      *message = "corrupt JPEG: unexpected marker at byte " + std::to_string(pos - 1);
      return false;
    }
    if (pos + 2 > n) return truncated("inside a segment length");
    const size_t len = Be16(b, pos);
    if (len < 2) {
      *message = "corrupt JPEG: bad segment length at byte " + std::to_string(pos);
      return false;
    }
    if (pos + len > n) return truncated("inside a segment");
    if (IsSof(marker)) {
      if (len < 8) {
        *message = "corrupt JPEG: short frame header";
        return false;
      }
      header->format = ImageFormat::kJpeg;
      header->height = static_cast<int>(Be16(b, pos + 3));
      header->width = static_cast<int>(Be16(b, pos + 5));
      have_sof = true;
      if (!to_end) return true;
    }
    pos += len;
    if (marker == 0xDA) {  // SOS: entropy-coded data up to the next real marker
      while (true) {
        if (pos + 1 >= n) return truncated("inside the image data");
        if (At(b, pos) != 0xFF) {
          ++pos;
          continue;
        }
        const uint8_t next = At(b, pos + 1);
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
          pos += 2;  // stuffed byte or restart marker
        } else if (next == 0xFF) {
          ++pos;  // fill byte before a marker
        } else {
          break;  // a marker: back to the segment loop
        }
      }
    }
  }
}

bool WalkPng(std::string_view b, bool to_end, ImageHeader* header, std::string* message) {
  const size_t n = b.size();
  if (n < 8 + 8 + 13) {
    *message = "truncated PNG: no complete header (" + std::to_string(n) + " bytes)";
    return false;
  }
  if (Be32(b, 8) != 13 || b.substr(12, 4) != "IHDR") {
    *message = "corrupt PNG: the first chunk is not IHDR";
    return false;
  }
  header->format = ImageFormat::kPng;
  const uint32_t w = Be32(b, 16), h = Be32(b, 20);
  if (w == 0 || h == 0 || w > 0x7FFFFFFF || h > 0x7FFFFFFF) {
    *message = "corrupt PNG: invalid dimensions " + std::to_string(w) + "x" + std::to_string(h);
    return false;
  }
  header->width = static_cast<int>(w);
  header->height = static_cast<int>(h);
  if (!to_end) return true;
  size_t pos = 8;
  while (true) {
    if (pos + 12 > n) {
      *message =
          "truncated PNG: the data ends before the IEND chunk (" + std::to_string(n) + " bytes)";
      return false;
    }
    const uint64_t len = Be32(b, pos);
    const std::string_view type = b.substr(pos + 4, 4);
    if (pos + 12 + len > n) {
      *message = "truncated PNG: chunk " + std::string(type) + " at byte " + std::to_string(pos) +
                 " is cut short (" + std::to_string(n) + " bytes)";
      return false;
    }
    if (type == "IEND") return true;
    pos += 12 + len;
  }
}

std::string Megapixels(int64_t px) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f Mpx", static_cast<double>(px) / 1e6);
  return buf;
}

}  // namespace

bool ReadImageHeader(std::string_view bytes, ImageHeader* header, std::string* message) {
  *header = ImageHeader{};
  if (IsJpeg(bytes)) return WalkJpeg(bytes, false, header, message);
  if (IsPng(bytes)) return WalkPng(bytes, false, header, message);
  return true;  // unknown format: not damaged, just not ours
}

bool CheckJpegComplete(std::string_view bytes, std::string* message) {
  ImageHeader h;
  return IsJpeg(bytes) && WalkJpeg(bytes, true, &h, message);
}

DecodedImage DecodeImage(std::string_view bytes, const DecodeLimits& limits) {
  DecodedImage out;
  auto fail = [&](Reason r, std::string m) {
    out.reason = r;
    out.message = std::move(m);
    out.bgr.release();
    return out;
  };
  if (bytes.empty()) return fail(Reason::kEmptyImage, "empty image (0 bytes)");
  if (bytes.size() > limits.max_bytes) {
    return fail(Reason::kImageTooLarge, "image of " + std::to_string(bytes.size()) +
                                            " bytes; the limit is " +
                                            std::to_string(limits.max_bytes));
  }
  std::string message;
  if (!ReadImageHeader(bytes, &out.header, &message)) {
    return fail(Reason::kCorruptImage, message);
  }
  if (out.header.format == ImageFormat::kUnknown) {
    char buf[64];
    const auto b = [&](size_t i) { return i < bytes.size() ? At(bytes, i) : 0; };
    std::snprintf(buf, sizeof buf, "%02x %02x %02x %02x", b(0), b(1), b(2), b(3));
    return fail(Reason::kUnsupportedFormat,
                std::string("not a JPEG or PNG image (starts with ") + buf + ")");
  }
  const int64_t w = out.header.width, h = out.header.height;
  if (w <= 0 || h <= 0) {
    return fail(Reason::kCorruptImage,
                "invalid dimensions " + std::to_string(w) + "x" + std::to_string(h));
  }
  if (w * h > limits.max_pixels || w > limits.max_side || h > limits.max_side) {
    return fail(Reason::kImageTooLarge,
                "image is " + std::to_string(w) + "x" + std::to_string(h) + " (" +
                    Megapixels(w * h) + "); the limit is " + Megapixels(limits.max_pixels) +
                    " and " + std::to_string(limits.max_side) + " px a side; not decoded");
  }
  const bool complete = out.header.format == ImageFormat::kJpeg
                            ? WalkJpeg(bytes, true, &out.header, &message)
                            : WalkPng(bytes, true, &out.header, &message);
  if (!complete) return fail(Reason::kCorruptImage, message);
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    out.bgr = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return fail(Reason::kCorruptImage, std::string("cannot decode the image: ") + e.what());
  }
  if (out.bgr.empty() || out.bgr.type() != CV_8UC3) {
    return fail(Reason::kCorruptImage, "cannot decode the image (damaged data)");
  }
  return out;
}

}  // namespace facegate::face
