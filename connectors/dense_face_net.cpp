#include "connectors/dense_face_net.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "connectors/cpu_kernels.hpp"

namespace seke {
namespace {

constexpr std::array<int, 4> kChannels = {32, 64, 128, 256};
constexpr int kPooledSide = 7;

// o = relu(sum of the inputs), element by element.
void relu_sum(std::initializer_list<const float*> inputs, std::size_t count, float* out) {
    std::fill(out, out + count, 0.0f);
    for (const float* in : inputs)
        for (std::size_t i = 0; i < count; ++i) out[i] += in[i];
    for (std::size_t i = 0; i < count; ++i) out[i] = std::max(out[i], 0.0f);
}

}  // namespace

Result<DenseFaceNet> DenseFaceNet::load(const tfjs::WeightMap& weights, int outputs, const std::string& what) {
    DenseFaceNet net;
    net.outputs_ = outputs;
    // The first missing or misshapen weight is the error; later lookups are skipped.
    std::optional<Error> error;
    auto need = [&](const std::string& name, const std::vector<int>& shape, std::vector<float>& into) {
        if (error) return;
        auto found = tfjs::find_weight(weights, name, shape, what);
        if (!found) error = found.error();
        else into = (*found)->values;
    };
    int in = 3;
    for (std::size_t b = 0; b < kChannels.size(); ++b) {
        Block block;
        block.in_channels = in;
        block.out_channels = kChannels[b];
        const std::string prefix = "dense" + std::to_string(b) + "/";
        const int out = kChannels[b];
        if (b == 0) {
            need(prefix + "conv0/filters", {3, 3, in, out}, block.first_filters);
            need(prefix + "conv0/bias", {out}, block.first_bias);
        } else {
            need(prefix + "conv0/depthwise_filter", {3, 3, in, 1}, block.first.depthwise);
            need(prefix + "conv0/pointwise_filter", {1, 1, in, out}, block.first.pointwise);
            need(prefix + "conv0/bias", {out}, block.first.bias);
        }
        for (int c = 0; c < 3; ++c) {
            const std::string name = prefix + "conv" + std::to_string(c + 1) + "/";
            need(name + "depthwise_filter", {3, 3, out, 1}, block.rest[c].depthwise);
            need(name + "pointwise_filter", {1, 1, out, out}, block.rest[c].pointwise);
            need(name + "bias", {out}, block.rest[c].bias);
        }
        net.blocks_.push_back(std::move(block));
        in = out;
    }
    need("fc/weights", {in, outputs}, net.fc_weights_);
    need("fc/bias", {outputs}, net.fc_bias_);
    if (error) return *error;
    return net;
}

std::vector<float> DenseFaceNet::forward(const cv::Mat& input) const {
    CV_Assert(input.type() == CV_32FC3 && input.rows == kInputSide && input.cols == kInputSide && input.isContinuous());
    // Per-thread buffers, sized for the largest map (56 x 56 x 32) and reused from call to call.
    const std::size_t largest = static_cast<std::size_t>(kInputSide / 2) * (kInputSide / 2) * kChannels[0];
    thread_local std::array<std::vector<float>, 6> buffers;
    for (auto& b : buffers) b.resize(largest);
    float* o1 = buffers[0].data();
    float* o2 = buffers[1].data();
    float* o3 = buffers[2].data();
    float* o4 = buffers[3].data();
    float* x = buffers[4].data();        // each block's input, then its output
    float* scratch = buffers[5].data();  // depthwise results and the sums between stages

    int side = kInputSide;
    auto separable = [&](const Separable& s, const float* in, int in_side, int channels_in, int channels_out,
                         int stride, kernels::Activation activation, float* out) {
        kernels::depthwise3x3(in, in_side, in_side, channels_in, s.depthwise.data(), stride, scratch);
        const int out_side = kernels::output_side(in_side, stride, kernels::Padding::same);
        kernels::pointwise(scratch, static_cast<std::size_t>(out_side) * out_side, channels_in, channels_out,
                           s.pointwise.data(), s.bias.data(), out, activation);
    };
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
        const Block& block = blocks_[b];
        const int out_side = kernels::output_side(side, 2, kernels::Padding::same);
        const int c = block.out_channels;
        if (b == 0)
            kernels::conv3x3(input.ptr<float>(), side, side, 3, block.first_filters.data(), block.first_bias.data(), c,
                             2, kernels::Padding::same, kernels::Activation::relu, o1);
        else separable(block.first, x, side, block.in_channels, c, 2, kernels::Activation::relu, o1);
        side = out_side;
        const std::size_t count = static_cast<std::size_t>(side) * side * c;
        separable(block.rest[0], o1, side, c, c, 1, kernels::Activation::linear, o2);
        relu_sum({o1, o2}, count, x);
        separable(block.rest[1], x, side, c, c, 1, kernels::Activation::linear, o3);
        relu_sum({o1, o2, o3}, count, x);
        separable(block.rest[2], x, side, c, c, 1, kernels::Activation::linear, o4);
        relu_sum({o1, o2, o3, o4}, count, x);
    }
    // Average pooling 7x7 (stride 2, "valid") over the 7x7 map: one mean per channel.
    const int channels = blocks_.back().out_channels;
    std::vector<float> pooled(static_cast<std::size_t>(channels), 0.0f);
    for (int p = 0; p < kPooledSide * kPooledSide; ++p)
        for (int c = 0; c < channels; ++c) pooled[c] += x[static_cast<std::size_t>(p) * channels + c];
    for (float& v : pooled) v /= static_cast<float>(kPooledSide * kPooledSide);
    std::vector<float> out(static_cast<std::size_t>(outputs_));
    kernels::pointwise(pooled.data(), 1, channels, outputs_, fc_weights_.data(), fc_bias_.data(), out.data(),
                       kernels::Activation::linear);
    return out;
}

}  // namespace seke
