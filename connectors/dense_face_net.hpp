#pragma once
// face-api's dense face nets on seke's own CPU kernels (connectors/cpu_kernels): the face feature
// extractor (four denseBlock4s of depthwise-separable convolutions, 112 -> 7, average pooling)
// and a fully connected head. FaceExpressionNet has 7 outputs, FaceLandmark68Net 136. The same
// net as build_face_api_net() (connectors/face_nets) builds in cv::dnn, without its per-thread
// copies: the weights are read-only, so one net serves every thread.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "connectors/tfjs_model.hpp"
#include "verify/errors.hpp"

namespace seke {

class DenseFaceNet {
  public:
    static constexpr int kInputSide = 112;

    // Errors: config_error (a weight missing or of another shape).
    static Result<DenseFaceNet> load(const tfjs::WeightMap& weights, int outputs, const std::string& what);

    // `input`: 112x112 CV_32FC3, RGB minus face-api's mean, divided by 255 (face_api_input()).
    // The head's outputs, before any softmax. Thread-safe.
    std::vector<float> forward(const cv::Mat& input) const;

  private:
    struct Separable {
        std::vector<float> depthwise;  // [3][3][in]
        std::vector<float> pointwise;  // [in][out]
        std::vector<float> bias;       // [out]
    };
    struct Block {
        int in_channels = 0, out_channels = 0;
        std::vector<float> first_filters, first_bias;  // block 0's full 3x3 convolution, [3][3][3][32]
        Separable first;                               // the other blocks' strided separable one
        Separable rest[3];
    };
    std::vector<Block> blocks_;
    std::vector<float> fc_weights_, fc_bias_;  // [256][outputs], [outputs]
    int outputs_ = 0;
};

}  // namespace seke
