// The weight loader: the installed files load into the network; each kind of damage is
// refused with a message naming the file and the tensor.
#include "face/tfjs_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "face/face_net.h"
#include "face/face_test_util.h"
#include "facegate/core/files.h"
#include "facegate/face/face_engine.h"
#include "testing/temp_dir.h"

namespace facegate::face {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr const char* kManifest = "face_recognition_model-weights_manifest.json";
constexpr const char* kBin = "face_recognition_model.bin";

class TfjsWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = ReadFile(testing::ModelsDir() / kManifest);
    auto b = ReadFile(testing::ModelsDir() / kBin);
    ASSERT_TRUE(m.ok() && b.ok()) << "model files missing: run scripts/setup";
    manifest_ = nlohmann::json::parse(*m);
    bin_ = *b;
  }

  // Writes the (possibly modified) pair into the temp dir; returns the manifest path.
  std::filesystem::path Write(const nlohmann::json& manifest, const std::string& bin) {
    EXPECT_TRUE(WriteFileAtomically(dir_ / kManifest, manifest.dump()).ok());
    EXPECT_TRUE(WriteFileAtomically(dir_ / kBin, bin).ok());
    return dir_ / kManifest;
  }

  nlohmann::json& Weights() { return manifest_[0]["weights"]; }

  facegate::testing::TempDir dir_;
  nlohmann::json manifest_;
  std::string bin_;
};

TEST_F(TfjsWeightsTest, LoadsTheInstalledFiles) {
  auto w = LoadTfjsWeights(testing::ModelsDir() / kManifest);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->tensors.size(), 117u);
  // The names the network needs are exactly the manifest's, in the same order.
  std::vector<std::string> names;
  for (const auto& t : w->tensors) names.push_back(t.name);
  EXPECT_EQ(names, FaceNet::TensorNames());

  const TfjsTensor* first = w->Find("conv32_down/conv/filters");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->shape, (std::vector<int64_t>{7, 7, 3, 32}));
  ASSERT_EQ(first->values.size(), 7u * 7 * 3 * 32);
  // uint8 dequantization: q * scale + min, from the manifest's own numbers.
  const auto& q = Weights()[0]["quantization"];
  const double scale = q["scale"], min = q["min"];
  EXPECT_FLOAT_EQ(first->values[0], static_cast<float>(uint8_t(bin_[0]) * scale + min));
  EXPECT_FLOAT_EQ(first->values[5], static_cast<float>(uint8_t(bin_[5]) * scale + min));

  // conv64_* filters are stored as plain float32.
  const TfjsTensor* f32 = w->Find("conv64_down/conv1/conv/filters");
  ASSERT_NE(f32, nullptr);
  EXPECT_EQ(f32->values.size(), 3u * 3 * 32 * 64);
  for (float v : f32->values) ASSERT_LT(std::abs(v), 10.0f);

  auto net = FaceNet::FromWeights(*w);
  EXPECT_TRUE(net.ok()) << net.status().ToString();
}

TEST_F(TfjsWeightsTest, MissingFilesAreNamed) {
  Write(manifest_, bin_);
  std::filesystem::remove(dir_ / kBin);
  auto w = LoadTfjsWeights(dir_ / kManifest);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(w.status().message(),
              AllOf(HasSubstr((dir_ / kBin).string()), HasSubstr("not found")));

  auto m = LoadTfjsWeights(dir_ / "absent.json");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr((dir_ / "absent.json").string()));
}

TEST_F(TfjsWeightsTest, TruncatedBinNamesTheTensorThatDoesNotFit) {
  auto path = Write(manifest_, bin_.substr(0, bin_.size() / 2));
  auto w = LoadTfjsWeights(path);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(w.status().message(),
              AllOf(HasSubstr((dir_ / kBin).string()), HasSubstr("too short for tensor '"),
                    HasSubstr("truncated")));
  // Cut inside the very last tensor: that is the one named.
  path = Write(manifest_, bin_.substr(0, bin_.size() - 1));
  w = LoadTfjsWeights(path);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("too short for tensor 'fc' [256, 128] uint8"));
}

TEST_F(TfjsWeightsTest, WrongByteLengthIsRefused) {
  auto path = Write(manifest_, bin_ + std::string(100, '\0'));
  auto w = LoadTfjsWeights(path);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(),
              AllOf(HasSubstr((dir_ / kBin).string()), HasSubstr("has 6444132 bytes"),
                    HasSubstr("need 6444032"), HasSubstr("last tensor 'fc'")));

  // A tensor declared float32 that is stored as uint8 makes the file too short for it.
  Weights()[2].erase("quantization");
  path = Write(manifest_, bin_);
  w = LoadTfjsWeights(path);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("tensor '"));
}

TEST_F(TfjsWeightsTest, WrongTensorCountNamesTheMissingTensor) {
  // Drop "fc" from both files, consistently: the loader is happy, the network is not.
  ASSERT_EQ(Weights().back()["name"], "fc");
  Weights().erase(Weights().size() - 1);
  auto path = Write(manifest_, bin_.substr(0, bin_.size() - 256 * 128));
  auto w = LoadTfjsWeights(path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto net = FaceNet::FromWeights(*w);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(net.status().message(), AllOf(HasSubstr(path.string()), HasSubstr("has 116 tensors"),
                                            HasSubstr("needs 117"), HasSubstr("missing 'fc'")));
}

TEST_F(TfjsWeightsTest, UnexpectedTensorIsNamed) {
  Weights()[0]["name"] = "conv32_down/conv/filterz";
  auto w = LoadTfjsWeights(Write(manifest_, bin_));
  ASSERT_TRUE(w.ok());
  auto net = FaceNet::FromWeights(*w);
  ASSERT_FALSE(net.ok());
  EXPECT_THAT(net.status().message(), AllOf(HasSubstr("missing 'conv32_down/conv/filters'"),
                                            HasSubstr("unexpected 'conv32_down/conv/filterz'")));
}

TEST_F(TfjsWeightsTest, WrongShapeNamesTheTensorAndBothShapes) {
  // Same byte count, transposed shape.
  Weights().back()["shape"] = {128, 256};
  auto w = LoadTfjsWeights(Write(manifest_, bin_));
  ASSERT_TRUE(w.ok());
  auto net = FaceNet::FromWeights(*w);
  ASSERT_FALSE(net.ok());
  EXPECT_THAT(net.status().message(),
              HasSubstr("tensor 'fc' has shape [128, 256], the network needs [256, 128]"));

  // A conv filter with its input and output channels swapped.
  SetUp();
  Weights()[0]["shape"] = {7, 7, 32, 3};
  w = LoadTfjsWeights(Write(manifest_, bin_));
  ASSERT_TRUE(w.ok());
  net = FaceNet::FromWeights(*w);
  ASSERT_FALSE(net.ok());
  EXPECT_THAT(net.status().message(),
              HasSubstr("tensor 'conv32_down/conv/filters' has shape [7, 7, 32, 3], the "
                        "network needs [7, 7, 3, 32]"));
}

TEST_F(TfjsWeightsTest, MalformedManifestsAreRefused) {
  EXPECT_TRUE(WriteFileAtomically(dir_ / kManifest, "[{\"paths\": [").ok());
  auto w = LoadTfjsWeights(dir_ / kManifest);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), AllOf(HasSubstr(kManifest), HasSubstr("not valid JSON")));

  Weights()[3]["quantization"]["dtype"] = "float16";
  w = LoadTfjsWeights(Write(manifest_, bin_));
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(),
              HasSubstr("tensor 'conv32_down/scale/biases': unsupported quantization dtype "
                        "'float16'"));
}

TEST_F(TfjsWeightsTest, EngineStartupFailsWithTheLoaderMessage) {
  Write(manifest_, bin_.substr(0, 1000));
  FaceOptions o = testing::TestOptions();
  o.recognition_manifest = dir_ / kManifest;
  auto engine = FaceEngine::Open(o);
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(),
              AllOf(HasSubstr((dir_ / kBin).string()), HasSubstr("too short for tensor")));

  o = testing::TestOptions();
  o.landmarks_model = dir_ / "missing.dat";
  engine = FaceEngine::Open(o);
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(), HasSubstr((dir_ / "missing.dat").string()));
}

}  // namespace
}  // namespace facegate::face
