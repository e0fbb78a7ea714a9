#pragma once
// The Tiny Face Detector of face-api (a Tiny-YOLOv2 with depthwise-separable convolutions,
// 190 KB of weights) run on the CPU. The weights are face-api's own files — a TensorFlow.js
// weights manifest and the binary it names — as the npm package ships them. Channels-last
// float kernels; one detection at 416 px takes under 10 ms on one core.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "verify/errors.hpp"

namespace seke {

struct ScoredBox {
    cv::Rect2f box;  // pixels of the image given to detect()
    float score = 0;
};

class TinyFaceNet {
  public:
    // `manifest_path`: tiny_face_detector_model-weights_manifest.json; the weight files it lists
    // are read from its folder. Errors: not_found, config_error (a file that is not this model).
    static Result<TinyFaceNet> load(const std::string& manifest_path);

    // Faces in a BGR image. It is scaled so its longest side is `input_side` (rounded up to a
    // multiple of 32) and padded; boxes scoring at least `min_score` survive, overlaps above
    // IoU 0.4 are merged into the better one. Thread-safe: the weights are read-only.
    std::vector<ScoredBox> detect(const cv::Mat& bgr, int input_side, float min_score) const;

    // The raw network output for a prepared input (tests compare it with a reference).
    struct Tensor {
        int height = 0, width = 0, channels = 0;
        std::vector<float> data;  // channels-last
        float at(int y, int x, int c) const { return data[(static_cast<std::size_t>(y) * width + x) * channels + c]; }
    };
    Tensor forward(const Tensor& input) const;
    // BGR pixels to the network's input: RGB minus face-api's mean, divided by 255.
    static Tensor input_from(const cv::Mat& bgr_padded);

    struct SeparableLayer {
        int in_channels = 0, out_channels = 0;
        std::vector<float> depthwise;  // [3][3][in]
        std::vector<float> pointwise;  // [in][out]
        std::vector<float> bias;       // [out]
    };
    struct Weights {
        std::vector<float> conv0_filters;       // [3][3][3][16]
        std::vector<float> conv0_bias;          // [16]
        std::vector<SeparableLayer> separable;  // conv1..conv5
        std::vector<float> conv8_filters;       // [512][25]
        std::vector<float> conv8_bias;          // [25]
    };
    const Weights& weights() const { return weights_; }

  private:
    Weights weights_;
};

}  // namespace seke
