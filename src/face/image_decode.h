// Decoding captures: JPEG and PNG from memory, with the limits checked before any pixel is
// decoded (a 20000x20000 PNG is a few hundred bytes and would need 1.2 GB).
//
// ReadImageHeader parses the JPEG SOF / PNG IHDR itself; CheckJpegComplete walks the JPEG
// marker structure to its EOI, because libjpeg pads a truncated image with grey and OpenCV
// returns it as if nothing happened. EXIF orientation is applied by cv::imdecode
// (IMREAD_COLOR does so since OpenCV 3.1; verified for 4.6 by the tests).
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <string>
#include <string_view>

#include "facegate/face/face_engine.h"

namespace facegate::face {

enum class ImageFormat { kUnknown, kJpeg, kPng };

struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;
  int height = 0;
};

struct DecodeLimits {
  size_t max_bytes = 16 << 20;
  int64_t max_pixels = 40'000'000;
  int max_side = 16384;
};

// The outcome of decoding: kOk and a BGR image, or the reason (kEmptyImage,
// kUnsupportedFormat, kCorruptImage, kImageTooLarge) and a message with the values.
struct DecodedImage {
  Reason reason = Reason::kOk;
  std::string message;
  ImageHeader header;
  cv::Mat bgr;  // 8-bit, 3 channels, EXIF orientation applied
};

// Format and dimensions from the first bytes; kUnknown format when it is neither.
// Returns false (with `message`) when the header is damaged or cut short.
bool ReadImageHeader(std::string_view bytes, ImageHeader* header, std::string* message);

// True when the JPEG's marker structure reaches its EOI marker.
bool CheckJpegComplete(std::string_view bytes, std::string* message);

DecodedImage DecodeImage(std::string_view bytes, const DecodeLimits& limits);

}  // namespace facegate::face
