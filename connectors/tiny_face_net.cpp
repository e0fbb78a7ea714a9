#include "connectors/tiny_face_net.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

// The kernels work on 8-float vectors (GCC vector extensions). The clones compile each kernel
// once more for AVX2 + FMA, picked at load time, so the binary still runs on any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEKE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SEKE_VECTOR_CLONES
#endif
// The 8-float helpers are always inlined, so their ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace seke {
namespace {

constexpr int kCellPixels = 32;  // five stride-2 poolings
constexpr int kAnchors = 5;
constexpr int kBoxFields = 5;  // x, y, w, h, objectness
// face-api's anchors, in cells, and the mean it subtracts from RGB input.
constexpr std::array<std::array<float, 2>, kAnchors> kAnchorCells = {{{1.603231f, 2.094468f},
                                                                      {6.041143f, 7.080126f},
                                                                      {2.882459f, 3.518061f},
                                                                      {4.266906f, 5.178857f},
                                                                      {9.041765f, 10.66308f}}};
constexpr std::array<float, 3> kMeanRgb = {117.001f, 114.697f, 97.404f};
constexpr float kLeakySlope = 0.1f;
constexpr float kMergeIou = 0.4f;
constexpr std::array<int, 7> kChannels = {3, 16, 32, 64, 128, 256, 512};

using Tensor = TinyFaceNet::Tensor;

Tensor make_tensor(int height, int width, int channels) {
    Tensor t;
    t.height = height;
    t.width = width;
    t.channels = channels;
    t.data.assign(static_cast<std::size_t>(height) * width * channels, 0.0f);
    return t;
}

// 1x1 convolution: every pixel's channel vector times an [in][out] matrix, plus bias. Blocks of
// 4 pixels x 16 output channels stay in registers while the input channels stream past.
constexpr int kLanes = 16, kBlockPixels = 4;
using Float8 = float __attribute__((vector_size(32)));

__attribute__((always_inline)) inline Float8 load8(const float* p) {
    Float8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
__attribute__((always_inline)) inline void store8(float* p, Float8 v) {
    std::memcpy(p, &v, sizeof v);
}
__attribute__((always_inline)) inline Float8 max8(Float8 a, Float8 b) {
    return a > b ? a : b;
}
__attribute__((always_inline)) inline Float8 leaky8(Float8 v) {
    return v > 0 ? v : v * kLeakySlope;
}

// Four pixels' 16 outputs in eight named accumulators, so they live in registers.
__attribute__((always_inline)) inline void pointwise_four(const float* __restrict__ in, int in_channels,
                                                          int out_channels, const float* __restrict__ filters,
                                                          const float* __restrict__ bias, float* __restrict__ out,
                                                          int first_output, bool leaky) {
    const Float8 bias_low = load8(bias + first_output), bias_high = load8(bias + first_output + 8);
    Float8 low0 = bias_low, low1 = bias_low, low2 = bias_low, low3 = bias_low;
    Float8 high0 = bias_high, high1 = bias_high, high2 = bias_high, high3 = bias_high;
    const std::size_t stride = static_cast<std::size_t>(in_channels);
    for (int i = 0; i < in_channels; ++i) {
        const float* w = filters + static_cast<std::size_t>(i) * out_channels + first_output;
        const Float8 w_low = load8(w), w_high = load8(w + 8);
        const float v0 = in[i], v1 = in[stride + i], v2 = in[2 * stride + i], v3 = in[3 * stride + i];
        low0 += v0 * w_low;
        high0 += v0 * w_high;
        low1 += v1 * w_low;
        high1 += v1 * w_high;
        low2 += v2 * w_low;
        high2 += v2 * w_high;
        low3 += v3 * w_low;
        high3 += v3 * w_high;
    }
    if (leaky) {
        low0 = leaky8(low0), low1 = leaky8(low1), low2 = leaky8(low2), low3 = leaky8(low3);
        high0 = leaky8(high0), high1 = leaky8(high1), high2 = leaky8(high2), high3 = leaky8(high3);
    }
    const std::size_t o = static_cast<std::size_t>(out_channels);
    store8(out + first_output, low0);
    store8(out + first_output + 8, high0);
    store8(out + o + first_output, low1);
    store8(out + o + first_output + 8, high1);
    store8(out + 2 * o + first_output, low2);
    store8(out + 2 * o + first_output + 8, high2);
    store8(out + 3 * o + first_output, low3);
    store8(out + 3 * o + first_output + 8, high3);
}

__attribute__((always_inline)) inline void pointwise_one(const float* __restrict__ in, int in_channels,
                                                         int out_channels, const float* __restrict__ filters,
                                                         const float* __restrict__ bias, float* __restrict__ out,
                                                         int first_output, bool leaky) {
    Float8 low = load8(bias + first_output), high = load8(bias + first_output + 8);
    for (int i = 0; i < in_channels; ++i) {
        const float* w = filters + static_cast<std::size_t>(i) * out_channels + first_output;
        low += in[i] * load8(w);
        high += in[i] * load8(w + 8);
    }
    store8(out + first_output, leaky ? leaky8(low) : low);
    store8(out + first_output + 8, leaky ? leaky8(high) : high);
}

SEKE_VECTOR_CLONES
void pointwise(const float* __restrict__ in, std::size_t pixels, int in_channels, int out_channels,
               const float* __restrict__ filters, const float* __restrict__ bias, float* __restrict__ out, bool leaky) {
    const int full_blocks = out_channels / kLanes * kLanes;
    std::size_t p = 0;
    for (; p < pixels; p += kBlockPixels) {
        const bool whole = p + kBlockPixels <= pixels;
        const float* src = in + p * in_channels;
        float* dst = out + p * out_channels;
        for (int o = 0; o < full_blocks; o += kLanes) {
            if (whole) {
                pointwise_four(src, in_channels, out_channels, filters, bias, dst, o, leaky);
            } else {
                for (std::size_t r = 0; p + r < pixels; ++r)
                    pointwise_one(src + r * in_channels, in_channels, out_channels, filters, bias,
                                  dst + r * out_channels, o, leaky);
            }
        }
        // Output channels past the last whole block of 16 (the 25 of the last layer).
        for (std::size_t r = 0; r < kBlockPixels && p + r < pixels; ++r) {
            for (int o = full_blocks; o < out_channels; ++o) {
                float sum = bias[o];
                for (int i = 0; i < in_channels; ++i)
                    sum += src[r * in_channels + i] * filters[static_cast<std::size_t>(i) * out_channels + o];
                dst[r * out_channels + o] = leaky && sum < 0 ? sum * kLeakySlope : sum;
            }
        }
    }
}

// Depthwise 3x3 with one pixel of zero padding (output the size of the input), no bias.
// Channel counts are multiples of 8.
SEKE_VECTOR_CLONES
void depthwise(const float* __restrict__ in, int height, int width, int channels, const float* __restrict__ filters,
               float* __restrict__ out) {
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            const float* sources[9];
            const float* weights[9];
            int taps = 0;
            for (int ky = 0; ky < 3; ++ky) {
                const int sy = y + ky - 1;
                if (sy < 0 || sy >= height) continue;
                for (int kx = 0; kx < 3; ++kx) {
                    const int sx = x + kx - 1;
                    if (sx < 0 || sx >= width) continue;
                    sources[taps] = in + (static_cast<std::size_t>(sy) * width + sx) * channels;
                    weights[taps] = filters + static_cast<std::ptrdiff_t>(ky * 3 + kx) * channels;
                    ++taps;
                }
            }
            float* dst = out + (static_cast<std::size_t>(y) * width + x) * channels;
            for (int c = 0; c < channels; c += 8) {
                Float8 acc = load8(sources[0] + c) * load8(weights[0] + c);
                for (int t = 1; t < taps; ++t) acc += load8(sources[t] + c) * load8(weights[t] + c);
                store8(dst + c, acc);
            }
        }
    }
}

// 2x2 max pooling with TensorFlow's "same" padding: the missing row/column is at the end.
// Channel counts are multiples of 8.
SEKE_VECTOR_CLONES
void max_pool_into(const float* __restrict__ in, int height, int width, int channels, int stride,
                   float* __restrict__ out) {
    const int out_height = (height + stride - 1) / stride, out_width = (width + stride - 1) / stride;
    for (int y = 0; y < out_height; ++y) {
        const int y0 = y * stride, y1 = std::min(y0 + 1, height - 1);
        for (int x = 0; x < out_width; ++x) {
            const int x0 = x * stride, x1 = std::min(x0 + 1, width - 1);
            const float* a = in + (static_cast<std::size_t>(y0) * width + x0) * channels;
            const float* b = in + (static_cast<std::size_t>(y0) * width + x1) * channels;
            const float* c = in + (static_cast<std::size_t>(y1) * width + x0) * channels;
            const float* d = in + (static_cast<std::size_t>(y1) * width + x1) * channels;
            float* dst = out + (static_cast<std::size_t>(y) * out_width + x) * channels;
            for (int i = 0; i < channels; i += 8)
                store8(dst + i, max8(max8(load8(a + i), load8(b + i)), max8(load8(c + i), load8(d + i))));
        }
    }
}

// 3x3 convolution without padding, 3 input channels to 16, bias, leaky ReLU. A row's 3x3x3
// patches are laid side by side, which makes it a 1x1 convolution of 27 channels.
SEKE_VECTOR_CLONES
void first_convolution(const float* __restrict__ in, int height, int width, const float* __restrict__ filters,
                       const float* __restrict__ bias, float* __restrict__ out) {
    constexpr int kIn = 3, kOut = 16, kPatch = 3 * 3 * kIn;
    const int out_height = height - 2, out_width = width - 2;
    thread_local std::vector<float> patches;
    patches.resize(static_cast<std::size_t>(out_width) * kPatch);
    for (int y = 0; y < out_height; ++y) {
        for (int x = 0; x < out_width; ++x)
            for (int ky = 0; ky < 3; ++ky)
                std::memcpy(
                    patches.data() + static_cast<std::size_t>(x) * kPatch + static_cast<std::size_t>(ky) * 3 * kIn,
                    in + (static_cast<std::size_t>(y + ky) * width + x) * kIn, sizeof(float) * 3 * kIn);
        pointwise(patches.data(), static_cast<std::size_t>(out_width), kPatch, kOut, filters, bias,
                  out + static_cast<std::size_t>(y) * out_width * kOut, true);
    }
}

float sigmoid(float v) {
    return 1.0f / (1.0f + std::exp(-v));
}

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
    const float inter = (a & b).area();
    const float uni = a.area() + b.area() - inter;
    return uni > 0 ? inter / uni : 0.0f;
}

// ---- weights ------------------------------------------------------------------------------

struct NamedWeight {
    std::vector<int> shape;
    std::vector<float> values;
};

Result<std::map<std::string, NamedWeight>> read_manifest(const std::string& manifest_path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(manifest_path, ec))
        return make_error(errc::not_found, "no face detector model at " + manifest_path);
    nlohmann::json manifest;
    {
        std::ifstream in(manifest_path, std::ios::binary);
        manifest = nlohmann::json::parse(in, nullptr, false);
    }
    auto bad = [&](const std::string& why) {
        return make_error(errc::config_error, "face detector model " + manifest_path + ": " + why);
    };
    if (!manifest.is_array()) return bad("not a TensorFlow.js weights manifest (expected a JSON array)");
    std::map<std::string, NamedWeight> weights;
    const fs::path folder = fs::path(manifest_path).parent_path();
    for (const auto& group : manifest) {
        if (!group.is_object() || !group.contains("paths") || !group.contains("weights") ||
            !group["paths"].is_array() || !group["weights"].is_array())
            return bad("a weight group without paths and weights");
        std::string bytes;
        for (const auto& path : group["paths"]) {
            if (!path.is_string()) return bad("a weight path that is not a string");
            std::ifstream in(folder / path.get<std::string>(), std::ios::binary);
            if (!in) return bad("cannot read the weight file " + (folder / path.get<std::string>()).string());
            bytes.append(std::istreambuf_iterator<char>(in), {});
        }
        std::size_t offset = 0;
        for (const auto& spec : group["weights"]) {
            if (!spec.is_object() || !spec.value("name", nlohmann::json()).is_string() || !spec.contains("shape") ||
                !spec["shape"].is_array())
                return bad("a weight entry without name and shape");
            NamedWeight w;
            std::size_t count = 1;
            for (const auto& d : spec["shape"]) {
                if (!d.is_number_integer() || d.get<long long>() <= 0 || d.get<long long>() > 4096)
                    return bad("a weight shape with a bad dimension");
                w.shape.push_back(d.get<int>());
                count *= static_cast<std::size_t>(d.get<int>());
            }
            w.values.resize(count);
            std::string quantized = "float32";
            double scale = 1, minimum = 0;
            if (spec.contains("quantization")) {
                const auto& q = spec["quantization"];
                quantized = q.value("dtype", std::string());
                scale = q.value("scale", 1.0);
                minimum = q.value("min", 0.0);
            } else if (spec.value("dtype", std::string("float32")) != "float32") {
                return bad("weights of type " + spec.value("dtype", std::string()) + " are not supported");
            }
            const std::size_t width = quantized == "uint8"     ? 1
                                      : quantized == "uint16"  ? 2
                                      : quantized == "float32" ? 4
                                                               : 0;
            if (width == 0) return bad("quantization " + quantized + " is not supported");
            if (offset + count * width > bytes.size())
                return bad("the weight files are shorter than the manifest says");
            const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
            for (std::size_t i = 0; i < count; ++i) {
                if (width == 1) {
                    w.values[i] = static_cast<float>(raw[i] * scale + minimum);
                } else if (width == 2) {
                    const unsigned v = raw[2 * i] | (raw[2 * i + 1] << 8);  // little-endian, as TensorFlow.js writes
                    w.values[i] = static_cast<float>(v * scale + minimum);
                } else {
                    std::memcpy(&w.values[i], raw + 4 * i, 4);
                }
            }
            offset += count * width;
            weights[spec["name"].get<std::string>()] = std::move(w);
        }
    }
    return weights;
}

}  // namespace

Result<TinyFaceNet> TinyFaceNet::load(const std::string& manifest_path) {
    auto named = read_manifest(manifest_path);
    if (!named) return named.error();
    auto take = [&](const std::string& name, const std::vector<int>& shape) -> Result<std::vector<float>> {
        auto it = named->find(name);
        if (it == named->end())
            return make_error(errc::config_error, "face detector model " + manifest_path + " has no weight " + name +
                                                      " (is it face-api's tiny_face_detector_model?)");
        if (it->second.shape != shape)
            return make_error(errc::config_error,
                              "face detector model " + manifest_path + ": weight " + name + " has an unexpected shape");
        return std::move(it->second.values);
    };
    TinyFaceNet net;
    Weights& w = net.weights_;
    auto conv0 = take("conv0/filters", {3, 3, 3, 16});
    if (!conv0) return conv0.error();
    auto conv0_bias = take("conv0/bias", {16});
    if (!conv0_bias) return conv0_bias.error();
    w.conv0_filters = std::move(*conv0);
    w.conv0_bias = std::move(*conv0_bias);
    for (int layer = 1; layer <= 5; ++layer) {
        const std::string prefix = "conv" + std::to_string(layer) + "/";
        const int in = kChannels[layer], out = kChannels[layer + 1];
        auto dw = take(prefix + "depthwise_filter", {3, 3, in, 1});
        if (!dw) return dw.error();
        auto pw = take(prefix + "pointwise_filter", {1, 1, in, out});
        if (!pw) return pw.error();
        auto bias = take(prefix + "bias", {out});
        if (!bias) return bias.error();
        w.separable.push_back({in, out, std::move(*dw), std::move(*pw), std::move(*bias)});
    }
    auto conv8 = take("conv8/filters", {1, 1, 512, kAnchors * kBoxFields});
    if (!conv8) return conv8.error();
    auto conv8_bias = take("conv8/bias", {kAnchors * kBoxFields});
    if (!conv8_bias) return conv8_bias.error();
    w.conv8_filters = std::move(*conv8);
    w.conv8_bias = std::move(*conv8_bias);
    return net;
}

Tensor TinyFaceNet::input_from(const cv::Mat& bgr) {
    Tensor t = make_tensor(bgr.rows, bgr.cols, 3);
    float* dst = t.data.data();
    for (int y = 0; y < bgr.rows; ++y) {
        const auto* row = bgr.ptr<cv::Vec3b>(y);
        for (int x = 0; x < bgr.cols; ++x) {
            *dst++ = (row[x][2] - kMeanRgb[0]) / 255.0f;
            *dst++ = (row[x][1] - kMeanRgb[1]) / 255.0f;
            *dst++ = (row[x][0] - kMeanRgb[2]) / 255.0f;
        }
    }
    return t;
}

Tensor TinyFaceNet::forward(const Tensor& input) const {
    // Two buffers per thread, reused from call to call: the layers ping-pong between them, so
    // a detection allocates (and page-faults) nothing once warm.
    thread_local std::vector<float> first, second;
    auto room = [](std::vector<float>& buffer, int height, int width, int channels) {
        const std::size_t size = static_cast<std::size_t>(height) * width * channels;
        if (buffer.size() < size) buffer.resize(size);
        return buffer.data();
    };
    std::vector<float>* current = &first;
    std::vector<float>* spare = &second;
    int height = input.height - 2, width = input.width - 2, channels = 16;
    first_convolution(input.data.data(), input.height, input.width, weights_.conv0_filters.data(),
                      weights_.conv0_bias.data(), room(*spare, height, width, channels));
    auto pool = [&](int stride) {
        const int pooled_height = (height + stride - 1) / stride, pooled_width = (width + stride - 1) / stride;
        max_pool_into(spare->data(), height, width, channels, stride,
                      room(*current, pooled_height, pooled_width, channels));
        height = pooled_height;
        width = pooled_width;
    };
    pool(2);
    for (std::size_t layer = 0; layer < weights_.separable.size(); ++layer) {
        const SeparableLayer& l = weights_.separable[layer];
        depthwise(current->data(), height, width, l.in_channels, l.depthwise.data(),
                  room(*spare, height, width, l.in_channels));
        std::swap(current, spare);
        pointwise(current->data(), static_cast<std::size_t>(height) * width, l.in_channels, l.out_channels,
                  l.pointwise.data(), l.bias.data(), room(*spare, height, width, l.out_channels), true);
        channels = l.out_channels;
        // The last pooling keeps the grid (stride 1).
        pool(layer + 1 == weights_.separable.size() ? 1 : 2);
    }
    Tensor out = make_tensor(height, width, kAnchors * kBoxFields);
    pointwise(current->data(), static_cast<std::size_t>(height) * width, channels, out.channels,
              weights_.conv8_filters.data(), weights_.conv8_bias.data(), out.data.data(), false);
    return out;
}

std::vector<ScoredBox> TinyFaceNet::detect(const cv::Mat& bgr, int input_side, float min_score) const {
    if (bgr.empty()) return {};
    const int side = std::max(kCellPixels, (input_side + kCellPixels - 1) / kCellPixels * kCellPixels);
    const double scale = static_cast<double>(side) / std::max(bgr.cols, bgr.rows);
    cv::Mat scaled;
    cv::resize(bgr, scaled,
               cv::Size(std::max(1, static_cast<int>(std::lround(bgr.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(bgr.rows * scale)))),
               0, 0, scale < 0.5 ? cv::INTER_AREA : cv::INTER_LINEAR);
    // Black padding up to whole cells, at the right and bottom as face-api pads.
    const int width = (scaled.cols + kCellPixels - 1) / kCellPixels * kCellPixels;
    const int height = (scaled.rows + kCellPixels - 1) / kCellPixels * kCellPixels;
    cv::Mat padded;
    cv::copyMakeBorder(scaled, padded, 0, height - scaled.rows, 0, width - scaled.cols, cv::BORDER_CONSTANT,
                       cv::Scalar::all(0));
    const Tensor out = forward(input_from(padded));

    std::vector<ScoredBox> found;
    const float cell_x = static_cast<float>(width) / static_cast<float>(out.width);
    const float cell_y = static_cast<float>(height) / static_cast<float>(out.height);
    const float back = static_cast<float>(1.0 / scale);
    for (int row = 0; row < out.height; ++row) {
        for (int col = 0; col < out.width; ++col) {
            for (int a = 0; a < kAnchors; ++a) {
                const int c = a * kBoxFields;
                const float score = sigmoid(out.at(row, col, c + 4));
                if (score < min_score) continue;
                const float cx = (static_cast<float>(col) + sigmoid(out.at(row, col, c))) * cell_x;
                const float cy = (static_cast<float>(row) + sigmoid(out.at(row, col, c + 1))) * cell_y;
                const float w = std::exp(out.at(row, col, c + 2)) * kAnchorCells[a][0] * cell_x;
                const float h = std::exp(out.at(row, col, c + 3)) * kAnchorCells[a][1] * cell_y;
                found.push_back({cv::Rect2f((cx - w / 2) * back, (cy - h / 2) * back, w * back, h * back), score});
            }
        }
    }
    std::sort(found.begin(), found.end(), [](const ScoredBox& a, const ScoredBox& b) { return a.score > b.score; });
    std::vector<ScoredBox> kept;
    for (const auto& candidate : found) {
        bool overlaps = std::any_of(kept.begin(), kept.end(),
                                    [&](const ScoredBox& k) { return iou(k.box, candidate.box) > kMergeIou; });
        if (!overlaps) kept.push_back(candidate);
    }
    return kept;
}

}  // namespace seke
