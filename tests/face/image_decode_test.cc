// Decoding: formats, damage, limits checked before decoding, EXIF orientation.
#include "face/image_decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <opencv2/imgproc.hpp>

#include "face/face_test_util.h"

namespace facegate::face {
namespace {

using testing::EncodeJpeg;
using testing::EncodePng;
using ::testing::HasSubstr;

uint32_t Crc32(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (char ch : data) {
    crc ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string Be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

std::string PngChunk(const std::string& type, const std::string& data) {
  return Be32(static_cast<uint32_t>(data.size())) + type + data + Be32(Crc32(type + data));
}

// A well-formed PNG that claims `w` x `h` RGB pixels: a few hundred bytes (a zlib stream of
// one empty stored block), which a decoder would turn into w*h*3 bytes of memory.
std::string PngClaiming(uint32_t w, uint32_t h) {
  std::string ihdr = Be32(w) + Be32(h) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string idat("\x78\x01\x01\x00\x00\xff\xff\x00\x00\x00\x01", 11);
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) + PngChunk("IDAT", idat) +
         PngChunk("IEND", "");
}

cv::Mat TestPattern(int w = 200, int h = 100) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(40, 40, 40));
  cv::rectangle(m, cv::Rect(0, 0, w / 4, h / 4), cv::Scalar(255, 255, 255), cv::FILLED);
  return m;
}

// Inserts an APP1 Exif segment with the given orientation right after SOI.
std::string WithExifOrientation(const std::string& jpeg, int orientation) {
  std::string tiff("II*\0\x08\0\0\0", 8);
  tiff += std::string("\x01\0", 2);
  tiff += std::string("\x12\x01\x03\0\x01\0\0\0", 8);
  tiff += std::string(1, char(orientation)) + std::string("\0\0\0", 3);
  tiff += std::string("\0\0\0\0", 4);
  std::string payload = std::string("Exif\0\0", 6) + tiff;
  const size_t len = payload.size() + 2;
  std::string seg = std::string("\xFF\xE1", 2) + char(len >> 8) + char(len & 0xFF) + payload;
  return jpeg.substr(0, 2) + seg + jpeg.substr(2);
}

TEST(ImageDecodeTest, DecodesJpegAndPng) {
  for (const std::string& bytes : {EncodeJpeg(TestPattern()), EncodePng(TestPattern())}) {
    DecodedImage d = DecodeImage(bytes, DecodeLimits{});
    ASSERT_EQ(d.reason, Reason::kOk) << d.message;
    EXPECT_EQ(d.bgr.cols, 200);
    EXPECT_EQ(d.bgr.rows, 100);
    EXPECT_EQ(d.bgr.type(), CV_8UC3);
    EXPECT_EQ(d.header.width, 200);
    EXPECT_EQ(d.header.height, 100);
  }
  // Grey JPEGs come out as three channels too.
  cv::Mat grey(50, 60, CV_8UC1, cv::Scalar(128));
  DecodedImage d = DecodeImage(EncodeJpeg(grey), DecodeLimits{});
  ASSERT_EQ(d.reason, Reason::kOk);
  EXPECT_EQ(d.bgr.type(), CV_8UC3);
}

TEST(ImageDecodeTest, HeaderDimensionsWithoutDecoding) {
  ImageHeader h;
  std::string msg;
  ASSERT_TRUE(ReadImageHeader(EncodeJpeg(TestPattern(321, 123)), &h, &msg)) << msg;
  EXPECT_EQ(h.format, ImageFormat::kJpeg);
  EXPECT_EQ(h.width, 321);
  EXPECT_EQ(h.height, 123);
  ASSERT_TRUE(ReadImageHeader(PngClaiming(20000, 30000), &h, &msg)) << msg;
  EXPECT_EQ(h.format, ImageFormat::kPng);
  EXPECT_EQ(h.width, 20000);
  EXPECT_EQ(h.height, 30000);
  ASSERT_TRUE(ReadImageHeader("GIF89a....", &h, &msg));
  EXPECT_EQ(h.format, ImageFormat::kUnknown);
  // The demo photos carry big EXIF segments before their frame header.
  ASSERT_TRUE(ReadImageHeader(testing::DemoBytes(1), &h, &msg)) << msg;
  EXPECT_EQ(h.width, 1920);
  EXPECT_EQ(h.height, 1280);
}

TEST(ImageDecodeTest, EmptyAndUnknownFormats) {
  DecodedImage d = DecodeImage("", DecodeLimits{});
  EXPECT_EQ(d.reason, Reason::kEmptyImage);
  EXPECT_THAT(d.message, HasSubstr("0 bytes"));

  d = DecodeImage("GIF89a\x01\x00\x01\x00", DecodeLimits{});
  EXPECT_EQ(d.reason, Reason::kUnsupportedFormat);
  EXPECT_THAT(d.message, HasSubstr("not a JPEG or PNG image (starts with 47 49 46 38)"));

  d = DecodeImage(std::string(1, '\xFF'), DecodeLimits{});
  EXPECT_EQ(d.reason, Reason::kUnsupportedFormat);
}

TEST(ImageDecodeTest, TruncatedImagesAreCorrupt) {
  const std::string jpeg = EncodeJpeg(testing::DemoImage(3));
  for (double keep : {0.999, 0.9, 0.5, 0.1, 0.001}) {
    const std::string cut = jpeg.substr(0, static_cast<size_t>(jpeg.size() * keep));
    DecodedImage d = DecodeImage(cut, DecodeLimits{});
    EXPECT_EQ(d.reason, Reason::kCorruptImage) << keep;
    EXPECT_THAT(d.message, HasSubstr("truncated JPEG")) << keep;
  }
  // Bytes after the end-of-image marker (some cameras append data) are fine.
  EXPECT_EQ(DecodeImage(jpeg + "trailer", DecodeLimits{}).reason, Reason::kOk);

  const std::string png = EncodePng(TestPattern());
  for (size_t keep : {png.size() - 1, png.size() / 2, size_t{40}, size_t{20}}) {
    DecodedImage d = DecodeImage(png.substr(0, keep), DecodeLimits{});
    EXPECT_EQ(d.reason, Reason::kCorruptImage) << keep;
    EXPECT_THAT(d.message, HasSubstr("truncated PNG")) << keep;
  }
}

TEST(ImageDecodeTest, DamagedDataIsCorruptNotACrash) {
  std::string jpeg = EncodeJpeg(TestPattern());
  std::string damaged = jpeg;
  damaged[2] = 'x';  // first marker destroyed
  EXPECT_EQ(DecodeImage(damaged, DecodeLimits{}).reason, Reason::kCorruptImage);
  // Random bytes after a PNG signature.
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, '\x42');
  EXPECT_EQ(DecodeImage(png, DecodeLimits{}).reason, Reason::kCorruptImage);
  // A syntactically complete PNG with damaged compressed data.
  std::string broken = PngClaiming(64, 64);
  EXPECT_EQ(DecodeImage(broken, DecodeLimits{}).reason, Reason::kCorruptImage);
}

TEST(ImageDecodeTest, DecompressionBombIsRefusedBeforeDecoding) {
  const std::string bomb = PngClaiming(20000, 20000);
  ASSERT_LT(bomb.size(), 100u);
  const auto start = std::chrono::steady_clock::now();
  DecodedImage d = DecodeImage(bomb, DecodeLimits{});
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(d.reason, Reason::kImageTooLarge);
  EXPECT_THAT(d.message, HasSubstr("20000x20000 (400.0 Mpx)"));
  EXPECT_THAT(d.message, HasSubstr("not decoded"));
  EXPECT_LT(ms, 50);

  // The same for a JPEG whose frame header claims 20000x20000.
  std::string jpeg = EncodeJpeg(TestPattern());
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = char(20000 >> 8);
  jpeg[sof + 6] = char(20000 & 0xFF);
  jpeg[sof + 7] = char(20000 >> 8);
  jpeg[sof + 8] = char(20000 & 0xFF);
  d = DecodeImage(jpeg, DecodeLimits{});
  EXPECT_EQ(d.reason, Reason::kImageTooLarge);
  EXPECT_THAT(d.message, HasSubstr("20000x20000"));

  // One side too long, and too many bytes.
  DecodeLimits limits;
  limits.max_side = 150;
  EXPECT_EQ(DecodeImage(EncodePng(TestPattern()), limits).reason, Reason::kImageTooLarge);
  limits = DecodeLimits{};
  limits.max_bytes = 100;
  d = DecodeImage(EncodePng(TestPattern()), limits);
  EXPECT_EQ(d.reason, Reason::kImageTooLarge);
  EXPECT_THAT(d.message, HasSubstr("the limit is 100"));
}

TEST(ImageDecodeTest, ExifOrientationIsApplied) {
  // White block in the top-left corner of a 200x100 image.
  const std::string jpeg = EncodeJpeg(TestPattern(), 98);
  auto corner_white = [](const cv::Mat& m, int x, int y) { return m.at<cv::Vec3b>(y, x)[0] > 200; };
  DecodedImage d = DecodeImage(WithExifOrientation(jpeg, 1), DecodeLimits{});
  ASSERT_EQ(d.reason, Reason::kOk);
  EXPECT_EQ(d.bgr.cols, 200);
  EXPECT_TRUE(corner_white(d.bgr, 5, 5));

  // 3: rotated 180 degrees -> the block is bottom-right.
  d = DecodeImage(WithExifOrientation(jpeg, 3), DecodeLimits{});
  ASSERT_EQ(d.reason, Reason::kOk);
  EXPECT_EQ(d.bgr.cols, 200);
  EXPECT_TRUE(corner_white(d.bgr, 194, 94));
  EXPECT_FALSE(corner_white(d.bgr, 5, 5));

  // 6: the camera was turned; display rotated 90 degrees clockwise -> 100x200, block
  // top-right.
  d = DecodeImage(WithExifOrientation(jpeg, 6), DecodeLimits{});
  ASSERT_EQ(d.reason, Reason::kOk);
  EXPECT_EQ(d.bgr.cols, 100);
  EXPECT_EQ(d.bgr.rows, 200);
  EXPECT_TRUE(corner_white(d.bgr, 94, 5));

  // 8: 90 degrees counter-clockwise -> block bottom-left.
  d = DecodeImage(WithExifOrientation(jpeg, 8), DecodeLimits{});
  ASSERT_EQ(d.reason, Reason::kOk);
  EXPECT_EQ(d.bgr.rows, 200);
  EXPECT_TRUE(corner_white(d.bgr, 5, 194));
}

}  // namespace
}  // namespace facegate::face
