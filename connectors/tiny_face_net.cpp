#include "connectors/tiny_face_net.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "connectors/cpu_kernels.hpp"
#include "connectors/tfjs_model.hpp"

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

float sigmoid(float v) {
    return 1.0f / (1.0f + std::exp(-v));
}

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
    const float inter = (a & b).area();
    const float uni = a.area() + b.area() - inter;
    return uni > 0 ? inter / uni : 0.0f;
}

}  // namespace

Result<TinyFaceNet> TinyFaceNet::load(const std::string& manifest_path) {
    const std::string what = "face detector model " + manifest_path;
    auto named = tfjs::read_weights_manifest(manifest_path, what);
    if (!named) return named.error();
    auto take = [&](const std::string& name, const std::vector<int>& shape) -> Result<std::vector<float>> {
        auto weight = tfjs::find_weight(*named, name, shape, what);
        if (!weight)
            return make_error(weight.error().code,
                              weight.error().message + " (is it face-api's tiny_face_detector_model?)");
        return (*weight)->values;
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
    kernels::conv3x3(input.data.data(), input.height, input.width, 3, weights_.conv0_filters.data(),
                     weights_.conv0_bias.data(), channels, 1, kernels::Padding::valid, kernels::Activation::leaky,
                     room(*spare, height, width, channels));
    auto pool = [&](int stride) {
        const int pooled_height = (height + stride - 1) / stride, pooled_width = (width + stride - 1) / stride;
        kernels::max_pool2x2(spare->data(), height, width, channels, stride,
                             room(*current, pooled_height, pooled_width, channels));
        height = pooled_height;
        width = pooled_width;
    };
    pool(2);
    for (std::size_t layer = 0; layer < weights_.separable.size(); ++layer) {
        const SeparableLayer& l = weights_.separable[layer];
        kernels::depthwise3x3(current->data(), height, width, l.in_channels, l.depthwise.data(), 1,
                              room(*spare, height, width, l.in_channels));
        std::swap(current, spare);
        kernels::pointwise(current->data(), static_cast<std::size_t>(height) * width, l.in_channels, l.out_channels,
                           l.pointwise.data(), l.bias.data(), room(*spare, height, width, l.out_channels),
                           kernels::Activation::leaky);
        channels = l.out_channels;
        // The last pooling keeps the grid (stride 1).
        pool(layer + 1 == weights_.separable.size() ? 1 : 2);
    }
    Tensor out = make_tensor(height, width, kAnchors * kBoxFields);
    kernels::pointwise(current->data(), static_cast<std::size_t>(height) * width, channels, out.channels,
                       weights_.conv8_filters.data(), weights_.conv8_bias.data(), out.data.data(),
                       kernels::Activation::linear);
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
