// The only translation unit that instantiates the ResNet type: keep everything else out of it
// so that edits elsewhere do not recompile it.
#include "face/face_net.h"

#include <dlib/dnn.h>

#include <algorithm>
#include <map>
#include <set>
#include <type_traits>

namespace facegate::face {
namespace {

// dlib's dnn_face_recognition_ex.cpp, verbatim in structure.
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = dlib::add_prev1<block<N, BN, 1, dlib::tag1<SUBNET>>>;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = dlib::add_prev2<
    dlib::avg_pool<2, 2, 2, 2, dlib::skip1<dlib::tag2<block<N, BN, 2, dlib::tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using block =
    BN<dlib::con<N, 3, 3, 1, 1, dlib::relu<BN<dlib::con<N, 3, 3, stride, stride, SUBNET>>>>>;

template <int N, typename SUBNET>
using ares = dlib::relu<residual<block, N, dlib::affine, SUBNET>>;
template <int N, typename SUBNET>
using ares_down = dlib::relu<residual_down<block, N, dlib::affine, SUBNET>>;

template <typename SUBNET>
using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET>
using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET>
using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET>
using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET>
using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;

using anet_type = dlib::loss_metric<dlib::fc_no_bias<
    128, dlib::avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<dlib::max_pool<
             3, 3, 2, 2,
             dlib::relu<dlib::affine<
                 dlib::con<32, 7, 7, 2, 2, dlib::input_rgb_image_sized<kChipSize>>>>>>>>>>>>>;

template <typename T>
struct IsCon : std::false_type {};
template <long N, long R, long C, int SY, int SX, int PY, int PX>
struct IsCon<dlib::con_<N, R, C, SY, SX, PY, PX>> : std::true_type {};

template <typename T>
struct IsFc : std::false_type {};
template <unsigned long N, dlib::fc_bias_mode M>
struct IsFc<dlib::fc_<N, M>> : std::true_type {};

// One conv layer of the network with its parameters, input side first.
struct ConvSlot {
  long rows = 0, cols = 0, filters = 0, channels = 0;
  dlib::tensor* params = nullptr;  // filters (OIHW) then biases
  dlib::affine_* affine = nullptr;
};

struct Layers {
  std::vector<ConvSlot> convs;
  dlib::tensor* fc = nullptr;  // [inputs x outputs], row-major
  long fc_outputs = 0;
};

// Collects the parameter tensors; the network must have been set up (one forward pass).
Layers CollectLayers(anet_type& net) {
  Layers layers;
  std::vector<dlib::tensor*> con_params;
  std::vector<std::array<long, 3>> con_dims;  // rows, cols, filters
  std::vector<dlib::affine_*> affines;
  // Visits from the output towards the input.
  dlib::visit_computational_layers(net, [&](auto& l) {
    using L = std::decay_t<decltype(l)>;
    if constexpr (IsCon<L>::value) {
      con_params.push_back(&l.get_layer_params());
      con_dims.push_back({l.nr(), l.nc(), l.num_filters()});
    } else if constexpr (std::is_same_v<L, dlib::affine_>) {
      affines.push_back(&l);
    } else if constexpr (IsFc<L>::value) {
      layers.fc = &l.get_layer_params();
      layers.fc_outputs = static_cast<long>(l.get_num_outputs());
    }
  });
  std::reverse(con_params.begin(), con_params.end());
  std::reverse(con_dims.begin(), con_dims.end());
  std::reverse(affines.begin(), affines.end());
  for (size_t i = 0; i < con_params.size(); ++i) {
    ConvSlot s;
    s.rows = con_dims[i][0];
    s.cols = con_dims[i][1];
    s.filters = con_dims[i][2];
    s.params = con_params[i];
    const long per_filter = s.rows * s.cols * s.filters;
    s.channels = per_filter ? (static_cast<long>(s.params->size()) - s.filters) / per_filter : 0;
    s.affine = i < affines.size() ? affines[i] : nullptr;
    layers.convs.push_back(s);
  }
  return layers;
}

// face-api's names for the 29 conv+scale layers, in network order.
std::vector<std::string> ConvPrefixes() {
  std::vector<std::string> p = {"conv32_down"};
  const std::vector<std::string> blocks = {
      "conv32_1",     "conv32_2",  "conv32_3",     "conv64_down",     "conv64_1",
      "conv64_2",     "conv64_3",  "conv128_down", "conv128_1",       "conv128_2",
      "conv256_down", "conv256_1", "conv256_2",    "conv256_down_out"};
  for (const auto& b : blocks) {
    p.push_back(b + "/conv1");
    p.push_back(b + "/conv2");
  }
  return p;
}

constexpr const char* kFilters = "/conv/filters";
constexpr const char* kBias = "/conv/bias";
constexpr const char* kScaleWeights = "/scale/weights";
constexpr const char* kScaleBiases = "/scale/biases";
constexpr const char* kFc = "fc";

}  // namespace

struct FaceNet::Impl {
  anet_type net;
};

FaceNet::FaceNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaceNet::~FaceNet() = default;

std::vector<std::string> FaceNet::TensorNames() {
  std::vector<std::string> names;
  for (const auto& p : ConvPrefixes()) {
    for (const char* s : {kFilters, kBias, kScaleWeights, kScaleBiases}) names.push_back(p + s);
  }
  names.push_back(kFc);
  return names;
}

Result<std::unique_ptr<FaceNet>> FaceNet::Load(const std::filesystem::path& manifest) {
  auto weights = LoadTfjsWeights(manifest);
  if (!weights.ok()) return weights.status();
  return FromWeights(*weights);
}

Result<std::unique_ptr<FaceNet>> FaceNet::FromWeights(const TfjsWeights& weights) {
  const std::string origin = weights.manifest.string();
  // Names first: report every missing and unexpected tensor at once.
  const std::vector<std::string> needed = TensorNames();
  {
    std::set<std::string> need(needed.begin(), needed.end());
    std::set<std::string> have;
    std::string duplicate;
    for (const auto& t : weights.tensors) {
      if (!have.insert(t.name).second && duplicate.empty()) duplicate = t.name;
    }
    std::string missing, unexpected;
    for (const auto& n : needed) {
      if (!have.count(n)) missing += (missing.empty() ? "'" : ", '") + n + "'";
    }
    for (const auto& n : have) {
      if (!need.count(n)) unexpected += (unexpected.empty() ? "'" : ", '") + n + "'";
    }
    if (!missing.empty() || !unexpected.empty() || !duplicate.empty() ||
        weights.tensors.size() != needed.size()) {
      std::string m = origin + ": the manifest has " + std::to_string(weights.tensors.size()) +
                      " tensors, the face recognition network needs " +
                      std::to_string(needed.size());
      if (!missing.empty()) m += "; missing " + missing;
      if (!unexpected.empty()) m += "; unexpected " + unexpected;
      if (!duplicate.empty()) m += "; duplicate '" + duplicate + "'";
      return Status::InvalidArgument(m);
    }
  }

  auto impl = std::make_unique<Impl>();
  try {
    // affine_ defaults to FC_MODE (per-element); the trained network uses per-channel.
    dlib::visit_computational_layers(impl->net, [](auto& l) {
      if constexpr (std::is_same_v<std::decay_t<decltype(l)>, dlib::affine_>) {
        l = dlib::affine_(dlib::CONV_MODE);
      }
    });
    // Parameter tensors exist only once the layers have seen their input: one forward pass.
    Chip blank(kChipSize, kChipSize);
    dlib::assign_all_pixels(blank, dlib::rgb_pixel(0, 0, 0));
    impl->net(blank);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot set up the face recognition network: ") + e.what());
  }

  Layers layers = CollectLayers(impl->net);
  const std::vector<std::string> prefixes = ConvPrefixes();
  if (layers.convs.size() != prefixes.size() || layers.fc == nullptr) {
    return Status::Internal("the ResNet has " + std::to_string(layers.convs.size()) +
                            " conv layers, expected " + std::to_string(prefixes.size()));
  }
  auto find = [&](const std::string& name, const std::vector<int64_t>& shape,
                  const TfjsTensor** out) -> Status {
    const TfjsTensor* t = weights.Find(name);
    if (t->shape != shape) {
      return Status::InvalidArgument(origin + ": tensor '" + name + "' has shape " +
                                     ShapeToString(t->shape) + ", the network needs " +
                                     ShapeToString(shape));
    }
    *out = t;
    return Status::Ok();
  };

  for (size_t i = 0; i < layers.convs.size(); ++i) {
    const ConvSlot& slot = layers.convs[i];
    const std::string& p = prefixes[i];
    const TfjsTensor *filters, *bias, *gamma, *beta;
    FACEGATE_RETURN_IF_ERROR(
        find(p + kFilters, {slot.rows, slot.cols, slot.channels, slot.filters}, &filters));
    FACEGATE_RETURN_IF_ERROR(find(p + kBias, {slot.filters}, &bias));
    FACEGATE_RETURN_IF_ERROR(find(p + kScaleWeights, {slot.filters}, &gamma));
    FACEGATE_RETURN_IF_ERROR(find(p + kScaleBiases, {slot.filters}, &beta));
    const size_t filter_count =
        static_cast<size_t>(slot.rows * slot.cols * slot.channels * slot.filters);
    if (slot.params->size() != filter_count + static_cast<size_t>(slot.filters) ||
        slot.affine == nullptr) {
      return Status::Internal("unexpected parameter layout in conv layer " + p);
    }
    // tfjs filters are HWIO; dlib's are OIHW, followed by the biases.
    float* dst = slot.params->host();
    const float* src = filters->values.data();
    const long H = slot.rows, W = slot.cols, I = slot.channels, O = slot.filters;
    for (long o = 0; o < O; ++o) {
      for (long c = 0; c < I; ++c) {
        for (long y = 0; y < H; ++y) {
          for (long x = 0; x < W; ++x) {
            dst[((o * I + c) * H + y) * W + x] = src[((y * W + x) * I + c) * O + o];
          }
        }
      }
    }
    std::copy(bias->values.begin(), bias->values.end(), dst + filter_count);
    // face-api's scale layer (x * weights + biases, per channel) is dlib's affine layer.
    auto g = slot.affine->get_gamma();
    auto b = slot.affine->get_beta();
    if (g.size() != static_cast<size_t>(O) || b.size() != static_cast<size_t>(O)) {
      return Status::Internal("affine layer after " + p + " is not in CONV_MODE");
    }
    std::copy(gamma->values.begin(), gamma->values.end(), g.host());
    std::copy(beta->values.begin(), beta->values.end(), b.host());
  }
  const long fc_inputs =
      layers.fc_outputs ? static_cast<long>(layers.fc->size()) / layers.fc_outputs : 0;
  const TfjsTensor* fc;
  FACEGATE_RETURN_IF_ERROR(find(kFc, {fc_inputs, layers.fc_outputs}, &fc));
  // Both are [inputs x outputs] row-major.
  std::copy(fc->values.begin(), fc->values.end(), layers.fc->host());
  return std::unique_ptr<FaceNet>(new FaceNet(std::move(impl)));
}

std::unique_ptr<FaceNet> FaceNet::Clone() const {
  auto impl = std::make_unique<Impl>();
  impl->net = impl_->net;
  return std::unique_ptr<FaceNet>(new FaceNet(std::move(impl)));
}

Result<FaceTemplate> FaceNet::Embed(const Chip& chip) {
  if (chip.nr() != kChipSize || chip.nc() != kChipSize) {
    return Status::InvalidArgument("a face chip must be 150x150 pixels, got " +
                                   std::to_string(chip.nc()) + "x" + std::to_string(chip.nr()));
  }
  try {
    dlib::matrix<float, 0, 1> d = impl_->net(chip);
    FaceTemplate t;
    if (d.size() != static_cast<long>(t.size())) return Status::Internal("bad template size");
    std::copy(d.begin(), d.end(), t.begin());
    return t;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("face recognition network: ") + e.what());
  }
}

Result<std::vector<FaceTemplate>> FaceNet::EmbedBatch(const std::vector<Chip>& chips) {
  for (const auto& chip : chips) {
    if (chip.nr() != kChipSize || chip.nc() != kChipSize) {
      return Status::InvalidArgument("a face chip must be 150x150 pixels");
    }
  }
  try {
    std::vector<dlib::matrix<float, 0, 1>> ds = impl_->net(chips, 32);
    std::vector<FaceTemplate> out(ds.size());
    for (size_t i = 0; i < ds.size(); ++i) {
      if (ds[i].size() != static_cast<long>(out[i].size())) {
        return Status::Internal("bad template size");
      }
      std::copy(ds[i].begin(), ds[i].end(), out[i].begin());
    }
    return out;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("face recognition network: ") + e.what());
  }
}

}  // namespace facegate::face
