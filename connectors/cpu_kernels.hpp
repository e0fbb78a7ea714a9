#pragma once
// The float kernels seke's own small networks run on (face-api's Tiny Face Detector and its dense
// face nets): channels-last tensors, 8-float vectors, an AVX2 + FMA clone picked at load time.
#include <cstddef>

namespace seke::kernels {

enum class Activation { linear, relu, leaky };  // leaky: slope 0.1 below zero, as face-api's detector

// A 1x1 convolution: each of `pixels` channel vectors times an [in][out] matrix, plus bias.
// `out_channels` is any count; the fast path takes them 16 at a time.
void pointwise(const float* in, std::size_t pixels, int in_channels, int out_channels, const float* filters,
               const float* bias, float* out, Activation activation);

// Output side of a 3x3 window sliding with `stride`: TensorFlow's "same" padding keeps
// ceil(side / stride) positions, "valid" the ones that fit.
enum class Padding { same, valid };
int output_side(int side, int stride, Padding padding);

// A depthwise 3x3 convolution without bias, TensorFlow "same" padding (the odd pixel of padding
// goes at the end). `channels` is a multiple of 8. Filters are [3][3][channels].
void depthwise3x3(const float* in, int height, int width, int channels, const float* filters, int stride, float* out);

// 2x2 max pooling with TensorFlow's "same" padding (the missing row/column is at the end).
// `channels` is a multiple of 8.
void max_pool2x2(const float* in, int height, int width, int channels, int stride, float* out);

// A full 3x3 convolution with bias (filters [3][3][in][out]): each output pixel's 3x3 patch is
// laid out as one vector, which makes it a pointwise convolution of 9 * in channels.
void conv3x3(const float* in, int height, int width, int in_channels, const float* filters, const float* bias,
             int out_channels, int stride, Padding padding, Activation activation, float* out);

}  // namespace seke::kernels
