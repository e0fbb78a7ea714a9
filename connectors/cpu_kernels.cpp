#include "connectors/cpu_kernels.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

// The kernels work on 8-float vectors (GCC vector extensions). The clones compile each kernel
// once more for AVX2 + FMA, picked at load time, so the binary still runs on any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEKE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SEKE_VECTOR_CLONES
#endif
// The 8-float helpers are always inlined, so their ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace seke::kernels {
namespace {

constexpr float kLeakySlope = 0.1f;
// Blocks of 4 pixels x 16 output channels stay in registers while the input channels stream past.
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
__attribute__((always_inline)) inline Float8 activate8(Float8 v, Activation activation) {
    switch (activation) {
        case Activation::relu: return v > 0 ? v : Float8{};
        case Activation::leaky: return v > 0 ? v : v * kLeakySlope;
        case Activation::linear: break;
    }
    return v;
}
float activate(float v, Activation activation) {
    if (v >= 0 || activation == Activation::linear) return v;
    return activation == Activation::relu ? 0.0f : v * kLeakySlope;
}

// Four pixels' 16 outputs in eight named accumulators, so they live in registers.
__attribute__((always_inline)) inline void pointwise_four(const float* __restrict__ in, int in_channels,
                                                          int out_channels, const float* __restrict__ filters,
                                                          const float* __restrict__ bias, float* __restrict__ out,
                                                          int first_output, Activation activation) {
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
    const std::size_t o = static_cast<std::size_t>(out_channels);
    store8(out + first_output, activate8(low0, activation));
    store8(out + first_output + 8, activate8(high0, activation));
    store8(out + o + first_output, activate8(low1, activation));
    store8(out + o + first_output + 8, activate8(high1, activation));
    store8(out + 2 * o + first_output, activate8(low2, activation));
    store8(out + 2 * o + first_output + 8, activate8(high2, activation));
    store8(out + 3 * o + first_output, activate8(low3, activation));
    store8(out + 3 * o + first_output + 8, activate8(high3, activation));
}

__attribute__((always_inline)) inline void pointwise_one(const float* __restrict__ in, int in_channels,
                                                         int out_channels, const float* __restrict__ filters,
                                                         const float* __restrict__ bias, float* __restrict__ out,
                                                         int first_output, Activation activation) {
    Float8 low = load8(bias + first_output), high = load8(bias + first_output + 8);
    for (int i = 0; i < in_channels; ++i) {
        const float* w = filters + static_cast<std::size_t>(i) * out_channels + first_output;
        low += in[i] * load8(w);
        high += in[i] * load8(w + 8);
    }
    store8(out + first_output, activate8(low, activation));
    store8(out + first_output + 8, activate8(high, activation));
}

// Where a 3x3 window's first row (or column) starts for output position 0, under `padding`.
int padding_before(int side, int stride, Padding padding) {
    if (padding == Padding::valid) return 0;
    const int total = std::max((output_side(side, stride, padding) - 1) * stride + 3 - side, 0);
    return total / 2;
}

}  // namespace

int output_side(int side, int stride, Padding padding) {
    return padding == Padding::same ? (side + stride - 1) / stride : (side - 3) / stride + 1;
}

SEKE_VECTOR_CLONES
void pointwise(const float* __restrict__ in, std::size_t pixels, int in_channels, int out_channels,
               const float* __restrict__ filters, const float* __restrict__ bias, float* __restrict__ out,
               Activation activation) {
    const int full_blocks = out_channels / kLanes * kLanes;
    for (std::size_t p = 0; p < pixels; p += kBlockPixels) {
        const bool whole = p + kBlockPixels <= pixels;
        const float* src = in + p * in_channels;
        float* dst = out + p * out_channels;
        for (int o = 0; o < full_blocks; o += kLanes) {
            if (whole) {
                pointwise_four(src, in_channels, out_channels, filters, bias, dst, o, activation);
            } else {
                for (std::size_t r = 0; p + r < pixels; ++r)
                    pointwise_one(src + r * in_channels, in_channels, out_channels, filters, bias,
                                  dst + r * out_channels, o, activation);
            }
        }
        // Output channels past the last whole block of 16 (the detector's 25, a classifier's 7).
        for (std::size_t r = 0; r < kBlockPixels && p + r < pixels; ++r) {
            for (int o = full_blocks; o < out_channels; ++o) {
                float sum = bias[o];
                for (int i = 0; i < in_channels; ++i)
                    sum += src[r * in_channels + i] * filters[static_cast<std::size_t>(i) * out_channels + o];
                dst[r * out_channels + o] = activate(sum, activation);
            }
        }
    }
}

SEKE_VECTOR_CLONES
void depthwise3x3(const float* __restrict__ in, int height, int width, int channels, const float* __restrict__ filters,
                  int stride, float* __restrict__ out) {
    const int out_height = output_side(height, stride, Padding::same);
    const int out_width = output_side(width, stride, Padding::same);
    const int top = padding_before(height, stride, Padding::same);
    const int left = padding_before(width, stride, Padding::same);
    for (int y = 0; y < out_height; ++y) {
        for (int x = 0; x < out_width; ++x) {
            const float* sources[9];
            const float* weights[9];
            int taps = 0;
            for (int ky = 0; ky < 3; ++ky) {
                const int sy = y * stride + ky - top;
                if (sy < 0 || sy >= height) continue;
                for (int kx = 0; kx < 3; ++kx) {
                    const int sx = x * stride + kx - left;
                    if (sx < 0 || sx >= width) continue;
                    sources[taps] = in + (static_cast<std::size_t>(sy) * width + sx) * channels;
                    weights[taps] = filters + static_cast<std::ptrdiff_t>(ky * 3 + kx) * channels;
                    ++taps;
                }
            }
            float* dst = out + (static_cast<std::size_t>(y) * out_width + x) * channels;
            for (int c = 0; c < channels; c += 8) {
                Float8 acc = load8(sources[0] + c) * load8(weights[0] + c);
                for (int t = 1; t < taps; ++t) acc += load8(sources[t] + c) * load8(weights[t] + c);
                store8(dst + c, acc);
            }
        }
    }
}

SEKE_VECTOR_CLONES
void max_pool2x2(const float* __restrict__ in, int height, int width, int channels, int stride,
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

void conv3x3(const float* in, int height, int width, int in_channels, const float* filters, const float* bias,
             int out_channels, int stride, Padding padding, Activation activation, float* out) {
    const int out_height = output_side(height, stride, padding), out_width = output_side(width, stride, padding);
    const int top = padding_before(height, stride, padding), left = padding_before(width, stride, padding);
    const int patch = 9 * in_channels;
    const std::size_t tap_bytes = sizeof(float) * static_cast<std::size_t>(in_channels);
    thread_local std::vector<float> patches;
    patches.resize(static_cast<std::size_t>(out_width) * patch);
    for (int y = 0; y < out_height; ++y) {
        for (int x = 0; x < out_width; ++x) {
            float* dst = patches.data() + static_cast<std::size_t>(x) * patch;
            for (int ky = 0; ky < 3; ++ky) {
                const int sy = y * stride + ky - top;
                for (int kx = 0; kx < 3; ++kx, dst += in_channels) {
                    const int sx = x * stride + kx - left;
                    if (sy < 0 || sy >= height || sx < 0 || sx >= width) std::memset(dst, 0, tap_bytes);
                    else std::memcpy(dst, in + (static_cast<std::size_t>(sy) * width + sx) * in_channels, tap_bytes);
                }
            }
        }
        pointwise(patches.data(), static_cast<std::size_t>(out_width), patch, out_channels, filters, bias,
                  out + static_cast<std::size_t>(y) * out_width * out_channels, activation);
    }
}

}  // namespace seke::kernels
