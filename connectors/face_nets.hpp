#pragma once
// cv::dnn nets built in code from TensorFlow.js weights: face-api's dense face nets
// (FaceExpressionNet, FaceLandmark68Net) from their weights manifests, and a tfjs graph model's
// topology for the ops Human's emotion net and facemesh use. Kernels are transposed from HWIO to
// OIHW; TensorFlow's "same" padding is OpenCV's pad_mode "SAME". A Net is not thread-safe: build
// one per thread.
#include <string>
#include <vector>

#include <opencv2/dnn.hpp>

#include "connectors/tfjs_model.hpp"
#include "verify/errors.hpp"

namespace seke {

// face-api's face feature extractor (four denseBlock4s, 112 -> 7, average pooling) and its fully
// connected head with `outputs` values, softmax-ed when `softmax`. Input: an NCHW blob of the
// 112x112 RGB face minus face-api's mean, divided by 255. Errors: config_error (a weight missing
// or of another shape).
Result<cv::dnn::Net> build_face_api_net(const tfjs::WeightMap& weights, int outputs, bool softmax,
                                        const std::string& what);

struct GraphNet {
    cv::dnn::Net net;
    std::vector<std::string> output_layers;   // for Net::forward, in the order asked for
    int height = 0, width = 0, channels = 0;  // the input the graph's Placeholder declares
};

// The part of `graph` that computes the nodes `outputs` (names of nodes; an Identity is followed
// to what it forwards). Supported ops: Placeholder, Const, Identity, Conv2D, _FusedConv2D
// (BiasAdd, optionally then Relu or Prelu), DepthwiseConv2dNative, MaxPool, AddV2, Relu, Prelu,
// Pad (of channels), Mean (over height and width), Reshape (of a 1x1 map to a vector), Softmax
// and Sigmoid. Input: an NCHW blob. Errors: config_error (an op outside that set, a shape that
// does not fit, a node or weight missing).
Result<GraphNet> build_graph_net(const tfjs::GraphModel& graph, const std::vector<std::string>& outputs,
                                 const std::string& what);

// What each net is fed, from CV_32FC3 RGB pixels in 0..255 at the net's own input size:
// face-api's nets: RGB minus face-api's mean [122.782, 117.001, 104.298], divided by 255
// (channels-last, as DenseFaceNet takes it; nchw() makes the cv::dnn blob).
cv::Mat face_api_input(const cv::Mat& rgb);
// Human's facemesh: RGB / 255, an NCHW blob.
cv::Mat facemesh_blob(const cv::Mat& rgb);
// Human's emotion net: grey = (RGB / 255) . [0.2989, 0.5870, 0.1140], then (grey - 0.5) * 2, a
// 1-channel NCHW blob.
cv::Mat emotion_blob(const cv::Mat& rgb);
// A channels-last float image as a 1xCxHxW blob.
cv::Mat nchw(const cv::Mat& image);

}  // namespace seke
