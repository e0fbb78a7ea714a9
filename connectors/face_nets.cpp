#include "connectors/face_nets.hpp"

#include <array>
#include <map>
#include <optional>
#include <utility>

namespace seke {
namespace {

using tfjs::Weight;

// A layer output: the layer's id in the net and which of its outputs.
struct Port {
    int layer = 0;  // 0 is the net's input
    int output = 0;
};

// Layers added by name and wired to their inputs in one call.
class Layers {
  public:
    Layers() { net_.setInputsNames({"input"}); }
    Port add(const std::string& name, const std::string& type, cv::dnn::LayerParams params,
             const std::vector<Port>& inputs) {
        params.name = name;
        params.type = type;
        const int id = net_.addLayer(name, type, params);
        for (std::size_t i = 0; i < inputs.size(); ++i)
            net_.connect(inputs[i].layer, inputs[i].output, id, static_cast<int>(i));
        return {id, 0};
    }
    cv::dnn::Net net() const { return net_; }

  private:
    cv::dnn::Net net_;
};

cv::Mat row_of(const std::vector<float>& values) {
    return cv::Mat(1, static_cast<int>(values.size()), CV_32F, const_cast<float*>(values.data())).clone();
}

// [kh][kw][in][out] (TensorFlow) to [out][in][kh][kw] (OpenCV).
cv::Mat oihw(const Weight& hwio) {
    const int kh = hwio.shape[0], kw = hwio.shape[1], in = hwio.shape[2], out = hwio.shape[3];
    const int shape[4] = {out, in, kh, kw};
    cv::Mat m(4, shape, CV_32F);
    auto* dst = m.ptr<float>();
    for (int y = 0; y < kh; ++y)
        for (int x = 0; x < kw; ++x)
            for (int i = 0; i < in; ++i)
                for (int o = 0; o < out; ++o)
                    dst[((static_cast<std::size_t>(o) * in + i) * kh + y) * kw + x] =
                        hwio.values[((static_cast<std::size_t>(y) * kw + x) * in + i) * out + o];
    return m;
}

// A depthwise kernel [kh][kw][channels][1] as a grouped convolution's [channels][1][kh][kw].
cv::Mat depthwise_oihw(const Weight& hwc1) {
    const int kh = hwc1.shape[0], kw = hwc1.shape[1], channels = hwc1.shape[2];
    const int shape[4] = {channels, 1, kh, kw};
    cv::Mat m(4, shape, CV_32F);
    auto* dst = m.ptr<float>();
    for (int k = 0; k < kh * kw; ++k)
        for (int c = 0; c < channels; ++c)
            dst[static_cast<std::size_t>(c) * kh * kw + k] = hwc1.values[static_cast<std::size_t>(k) * channels + c];
    return m;
}

struct Convolution {
    int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, outputs = 0, group = 1;
    bool same = true;  // TensorFlow "same" padding, else "valid"
};

cv::dnn::LayerParams convolution_params(const Convolution& c, cv::Mat weights, const std::vector<float>* bias) {
    cv::dnn::LayerParams p;
    p.set("kernel_h", c.kernel_h);
    p.set("kernel_w", c.kernel_w);
    p.set("stride_h", c.stride_h);
    p.set("stride_w", c.stride_w);
    p.set("pad_mode", c.same ? "SAME" : "VALID");
    p.set("num_output", c.outputs);
    p.set("group", c.group);
    p.set("bias_term", bias != nullptr);
    p.blobs.push_back(std::move(weights));
    if (bias) p.blobs.push_back(row_of(*bias));
    return p;
}

cv::dnn::LayerParams sum_params() {
    cv::dnn::LayerParams p;
    p.set("operation", "sum");
    return p;
}

// ---- face-api's dense face nets -----------------------------------------------------------

constexpr std::array<int, 4> kDenseChannels = {32, 64, 128, 256};

// Every weight the net reads, with its shape, so all are checked before any layer is built.
std::vector<std::pair<std::string, std::vector<int>>> face_api_weight_specs(int outputs) {
    std::vector<std::pair<std::string, std::vector<int>>> specs;
    int in = 3;
    for (std::size_t block = 0; block < kDenseChannels.size(); ++block) {
        const std::string prefix = "dense" + std::to_string(block) + "/";
        const int out = kDenseChannels[block];
        for (int conv = 0; conv < 4; ++conv) {
            const std::string name = prefix + "conv" + std::to_string(conv) + "/";
            const int conv_in = conv == 0 ? in : out;
            if (block == 0 && conv == 0) {
                specs.push_back({name + "filters", {3, 3, conv_in, out}});
            } else {
                specs.push_back({name + "depthwise_filter", {3, 3, conv_in, 1}});
                specs.push_back({name + "pointwise_filter", {1, 1, conv_in, out}});
            }
            specs.push_back({name + "bias", {out}});
        }
        in = out;
    }
    specs.push_back({"fc/weights", {in, outputs}});
    specs.push_back({"fc/bias", {outputs}});
    return specs;
}

}  // namespace

namespace {

cv::dnn::Net face_api_layers(const tfjs::WeightMap& weights, int outputs, bool softmax) {
    Layers layers;
    auto relu = [&](const std::string& name, Port x) { return layers.add(name, "ReLU", {}, {x}); };
    auto sum = [&](const std::string& name, const std::vector<Port>& xs) {
        return layers.add(name, "Eltwise", sum_params(), xs);
    };
    // tf.separableConv2d with "same" padding, then the bias.
    auto separable = [&](const std::string& name, Port x, int in, int out, int stride) {
        Convolution depthwise{3, 3, stride, stride, in, in, true};
        Port d = layers.add(
            name + "depthwise", "Convolution",
            convolution_params(depthwise, depthwise_oihw(weights.at(name + "depthwise_filter")), nullptr), {x});
        Convolution pointwise{1, 1, 1, 1, out, 1, true};
        return layers.add(name + "pointwise", "Convolution",
                          convolution_params(pointwise, oihw(weights.at(name + "pointwise_filter")),
                                             &weights.at(name + "bias").values),
                          {d});
    };
    Port x;
    int in = 3;
    for (std::size_t block = 0; block < kDenseChannels.size(); ++block) {
        const std::string prefix = "dense" + std::to_string(block) + "/";
        const int out = kDenseChannels[block];
        Port first;
        if (block == 0) {
            Convolution conv{3, 3, 2, 2, out, 1, true};
            first = layers.add(prefix + "conv0", "Convolution",
                               convolution_params(conv, oihw(weights.at(prefix + "conv0/filters")),
                                                  &weights.at(prefix + "conv0/bias").values),
                               {x});
        } else {
            first = separable(prefix + "conv0/", x, in, out, 2);
        }
        const Port o1 = relu(prefix + "out1", first);
        const Port o2 = separable(prefix + "conv1/", o1, out, out, 1);
        const Port o3 = separable(prefix + "conv2/", relu(prefix + "in3", sum(prefix + "sum3", {o1, o2})), out, out, 1);
        const Port o4 =
            separable(prefix + "conv3/", relu(prefix + "in4", sum(prefix + "sum4", {o1, o2, o3})), out, out, 1);
        x = relu(prefix + "out", sum(prefix + "sum", {o1, o2, o3, o4}));
        in = out;
    }
    cv::dnn::LayerParams pool;
    pool.set("pool", "ave");
    pool.set("kernel_size", 7);
    pool.set("stride", 2);
    pool.set("pad_mode", "VALID");
    x = layers.add("avgpool", "Pooling", pool, {x});
    x = layers.add("flatten", "Flatten", {}, {x});
    const Weight& fc = weights.at("fc/weights");
    cv::Mat fc_weights(outputs, in, CV_32F);  // [in][out] to [out][in]
    for (int i = 0; i < in; ++i)
        for (int o = 0; o < outputs; ++o)
            fc_weights.at<float>(o, i) = fc.values[static_cast<std::size_t>(i) * outputs + o];
    cv::dnn::LayerParams dense;
    dense.set("num_output", outputs);
    dense.set("bias_term", true);
    dense.blobs = {fc_weights, row_of(weights.at("fc/bias").values)};
    x = layers.add("fc", "InnerProduct", dense, {x});
    if (softmax) {
        cv::dnn::LayerParams p;
        p.set("axis", 1);
        layers.add("softmax", "Softmax", p, {x});
    }
    return layers.net();
}

}  // namespace

Result<cv::dnn::Net> build_face_api_net(const tfjs::WeightMap& weights, int outputs, bool softmax,
                                        const std::string& what) {
    for (const auto& [name, shape] : face_api_weight_specs(outputs)) {
        auto found = tfjs::find_weight(weights, name, shape, what);
        if (!found) return found.error();
    }
    try {
        return face_api_layers(weights, outputs, softmax);
    } catch (const cv::Exception& e) {
        return make_error(errc::config_error, what + ": OpenCV refused the net: " + e.what());
    }
}

// ---- tfjs graph models --------------------------------------------------------------------

namespace {

constexpr int kMaxSide = 4096;  // of any feature map, and its channels

struct Shape {
    int height = 1, width = 1, channels = 0;
    bool flat = false;  // a vector of `channels` values (after Mean, Reshape)
    bool operator==(const Shape&) const = default;
};

struct Value {
    Port port;
    Shape shape;
};

// Translates one graph, node by node, in an order where every input comes first.
class GraphBuilder {
  public:
    GraphBuilder(const tfjs::GraphModel& graph, std::string what) : graph_(graph), what_(std::move(what)) {
        for (const auto& node : graph.nodes) by_name_.emplace(node.name, &node);
    }

    Result<GraphNet> build(const std::vector<std::string>& outputs) {
        auto order = topological_order(outputs);
        if (!order) return order.error();
        for (const tfjs::Node* node : *order) {
            if (auto error = translate(*node)) return *error;
        }
        GraphNet out;
        for (const auto& name : outputs) {
            auto node = input_node(name);
            if (!node) return node.error();
            out.output_layers.push_back(layer_names_.at(values_.at((*node)->name).port.layer));
        }
        out.height = input_.height;
        out.width = input_.width;
        out.channels = input_.channels;
        out.net = layers_.net();
        return out;
    }

  private:
    Error bad(const std::string& why) const { return make_error(errc::config_error, what_ + ": " + why); }

    // The node an input names: "name" or "name:0"; control inputs and other outputs are refused.
    Result<const tfjs::Node*> input_node(const std::string& input) const {
        if (input.empty() || input.front() == '^') return bad("control input " + input + " is not supported");
        std::string name = input;
        if (auto colon = name.rfind(':'); colon != std::string::npos) {
            if (name.substr(colon + 1) != "0") return bad("input " + input + " (a second output) is not supported");
            name.resize(colon);
        }
        auto it = by_name_.find(name);
        if (it == by_name_.end()) return bad("node input " + input + " does not exist");
        return it->second;
    }

    // Post-order walk from the outputs without recursion; each node is visited once, so the
    // work is bounded by the number of nodes and inputs.
    Result<std::vector<const tfjs::Node*>> topological_order(const std::vector<std::string>& outputs) const {
        enum class Mark { open, done };
        std::map<const tfjs::Node*, Mark> marks;
        std::vector<const tfjs::Node*> order;
        std::vector<std::pair<const tfjs::Node*, std::size_t>> stack;
        for (const auto& name : outputs) {
            auto root = input_node(name);
            if (!root) return bad("output " + name + " is not a node of the graph");
            if (marks.count(*root)) continue;
            marks[*root] = Mark::open;
            stack.emplace_back(*root, 0);
            while (!stack.empty()) {
                auto& [node, next] = stack.back();
                if (next == node->inputs.size()) {
                    marks[node] = Mark::done;
                    order.push_back(node);
                    stack.pop_back();
                    continue;
                }
                auto input = input_node(node->inputs[next++]);
                if (!input) return input.error();
                if ((*input)->op == "Const") continue;  // weights are read by the op that takes them
                auto mark = marks.find(*input);
                if (mark == marks.end()) {
                    marks[*input] = Mark::open;
                    stack.emplace_back(*input, 0);
                } else if (mark->second == Mark::open) {
                    return bad("the graph has a cycle through node " + (*input)->name);
                }
            }
        }
        return order;
    }

    Result<Value> data(const tfjs::Node& node, std::size_t i) const {
        if (i >= node.inputs.size()) return bad("node " + node.name + " has too few inputs");
        auto input = input_node(node.inputs[i]);
        if (!input) return input.error();
        auto it = values_.find((*input)->name);
        if (it == values_.end()) return bad("node " + node.name + " reads " + (*input)->name + ", which is not data");
        return it->second;
    }

    Result<const Weight*> constant(const tfjs::Node& node, std::size_t i) const {
        if (i >= node.inputs.size()) return bad("node " + node.name + " has too few inputs");
        auto input = input_node(node.inputs[i]);
        if (!input) return input.error();
        if ((*input)->op != "Const")
            return bad("node " + node.name + " input " + node.inputs[i] + " is not a constant");
        auto it = graph_.weights.find((*input)->name);
        if (it == graph_.weights.end()) return bad("constant " + (*input)->name + " has no weights");
        return &it->second;
    }

    const tfjs::Attribute* attribute(const tfjs::Node& node, const std::string& key) const {
        auto it = node.attributes.find(key);
        return it == node.attributes.end() ? nullptr : &it->second;
    }

    // Strides [1, h, w, 1] and "SAME"/"VALID" padding of a convolution or pooling node.
    std::optional<Error> window(const tfjs::Node& node, Convolution& c) const {
        const auto* strides = attribute(node, "strides");
        if (!strides || strides->integers.size() != 4 || strides->integers[0] != 1 || strides->integers[3] != 1 ||
            strides->integers[1] < 1 || strides->integers[2] < 1 || strides->integers[1] > 16 ||
            strides->integers[2] > 16)
            return bad("node " + node.name + " has strides seke does not support");
        c.stride_h = static_cast<int>(strides->integers[1]);
        c.stride_w = static_cast<int>(strides->integers[2]);
        const auto* padding = attribute(node, "padding");
        if (!padding || (padding->text != "SAME" && padding->text != "VALID"))
            return bad("node " + node.name + " has padding seke does not support");
        c.same = padding->text == "SAME";
        if (const auto* format = attribute(node, "data_format");
            format && !format->text.empty() && format->text != "NHWC")
            return bad("node " + node.name + " is not NHWC");
        if (const auto* dilations = attribute(node, "dilations")) {
            for (auto d : dilations->integers)
                if (d != 1) return bad("node " + node.name + " is dilated, which seke does not support");
        }
        return std::nullopt;
    }

    static std::optional<Shape> windowed(const Shape& in, const Convolution& c, int channels) {
        Shape out{0, 0, channels, false};
        if (c.same) {
            out.height = (in.height + c.stride_h - 1) / c.stride_h;
            out.width = (in.width + c.stride_w - 1) / c.stride_w;
        } else {
            if (in.height < c.kernel_h || in.width < c.kernel_w) return std::nullopt;
            out.height = (in.height - c.kernel_h) / c.stride_h + 1;
            out.width = (in.width - c.kernel_w) / c.stride_w + 1;
        }
        return out;
    }

    void put(const tfjs::Node& node, Port port, Shape shape) { values_[node.name] = {port, shape}; }
    Port add(const std::string& name, const std::string& type, cv::dnn::LayerParams params,
             const std::vector<Port>& inputs) {
        Port port = layers_.add(name, type, std::move(params), inputs);
        layer_names_[port.layer] = name;
        return port;
    }

    std::optional<Error> prelu(const tfjs::Node& node, std::size_t alpha_input, const std::string& name, Port x,
                               const Shape& shape, Port& out) {
        auto alpha = constant(node, alpha_input);
        if (!alpha) return alpha.error();
        if (static_cast<int>((*alpha)->size()) != shape.channels)
            return bad("node " + node.name + " has " + std::to_string((*alpha)->size()) + " PReLU slopes for " +
                       std::to_string(shape.channels) + " channels");
        cv::dnn::LayerParams p;
        p.blobs.push_back(row_of((*alpha)->values));
        out = add(name, "PReLU", p, {x});
        return std::nullopt;
    }

    std::optional<Error> convolution(const tfjs::Node& node, bool depthwise) {
        auto x = data(node, 0);
        if (!x) return x.error();
        if (x->shape.flat) return bad("node " + node.name + " convolves a vector");
        auto kernel = constant(node, 1);
        if (!kernel) return kernel.error();
        const auto& k = (*kernel)->shape;
        if (k.size() != 4 || k[2] != x->shape.channels || (depthwise && k[3] != 1))
            return bad("node " + node.name + " has a kernel that does not fit its input");
        Convolution c;
        if (auto error = window(node, c)) return error;
        c.kernel_h = k[0];
        c.kernel_w = k[1];
        c.outputs = depthwise ? k[2] : k[3];
        c.group = depthwise ? k[2] : 1;
        auto shape = windowed(x->shape, c, c.outputs);
        if (!shape) return bad("node " + node.name + " has a kernel larger than its input");

        std::vector<std::string> fused;
        if (const auto* ops = attribute(node, "fused_ops")) fused = ops->texts;
        const bool has_bias = !fused.empty();
        if (node.op == "_FusedConv2D" && (fused.empty() || fused[0] != "BiasAdd" || fused.size() > 2 ||
                                          (fused.size() == 2 && fused[1] != "Relu" && fused[1] != "Prelu")))
            return bad("node " + node.name + " fuses ops seke does not support");
        const Weight* bias = nullptr;
        if (has_bias) {
            auto b = constant(node, 2);
            if (!b) return b.error();
            if (static_cast<int>((*b)->size()) != c.outputs) return bad("node " + node.name + " has a bad bias");
            bias = *b;
        }
        const bool last = fused.size() < 2;
        Port out = add(last ? node.name : node.name + "/conv", "Convolution",
                       convolution_params(c, depthwise ? depthwise_oihw(**kernel) : oihw(**kernel),
                                          bias ? &bias->values : nullptr),
                       {x->port});
        if (fused.size() == 2 && fused[1] == "Relu") out = add(node.name, "ReLU", {}, {out});
        if (fused.size() == 2 && fused[1] == "Prelu") {
            if (auto error = prelu(node, 3, node.name, out, *shape, out)) return error;
        }
        put(node, out, *shape);
        return std::nullopt;
    }

    std::optional<Error> max_pool(const tfjs::Node& node) {
        auto x = data(node, 0);
        if (!x) return x.error();
        const auto* size = attribute(node, "ksize");
        if (x->shape.flat || !size || size->integers.size() != 4 || size->integers[0] != 1 || size->integers[3] != 1 ||
            size->integers[1] < 1 || size->integers[2] < 1 || size->integers[1] > 16 || size->integers[2] > 16)
            return bad("node " + node.name + " pools in a way seke does not support");
        Convolution c;
        if (auto error = window(node, c)) return error;
        c.kernel_h = static_cast<int>(size->integers[1]);
        c.kernel_w = static_cast<int>(size->integers[2]);
        auto shape = windowed(x->shape, c, x->shape.channels);
        if (!shape) return bad("node " + node.name + " pools a window larger than its input");
        cv::dnn::LayerParams p;
        p.set("pool", "max");
        p.set("kernel_h", c.kernel_h);
        p.set("kernel_w", c.kernel_w);
        p.set("stride_h", c.stride_h);
        p.set("stride_w", c.stride_w);
        p.set("pad_mode", c.same ? "SAME" : "VALID");
        put(node, add(node.name, "Pooling", p, {x->port}), *shape);
        return std::nullopt;
    }

    // Zero padding [[n0,n1],[h0,h1],[w0,w1],[c0,c1]] (NHWC), as OpenCV's NCHW pairs.
    std::optional<Error> pad(const tfjs::Node& node) {
        auto x = data(node, 0);
        if (!x) return x.error();
        auto paddings = constant(node, 1);
        if (!paddings) return paddings.error();
        const auto& v = (*paddings)->values;
        if (node.inputs.size() != 2 || x->shape.flat || (*paddings)->shape != std::vector<int>{4, 2})
            return bad("node " + node.name + " pads in a way seke does not support");
        for (float p : v)
            if (p < 0 || p > kMaxSide) return bad("node " + node.name + " has a bad padding");
        auto at = [&](int axis, int side) { return static_cast<int>(v[static_cast<std::size_t>(axis) * 2 + side]); };
        if (at(0, 0) != 0 || at(0, 1) != 0) return bad("node " + node.name + " pads the batch");
        const int nchw[8] = {0, 0, at(3, 0), at(3, 1), at(1, 0), at(1, 1), at(2, 0), at(2, 1)};
        cv::dnn::LayerParams p;
        p.set("paddings", cv::dnn::DictValue::arrayInt(nchw, 8));
        p.set("type", "constant");
        p.set("value", 0);
        Shape shape = x->shape;
        shape.height += at(1, 0) + at(1, 1);
        shape.width += at(2, 0) + at(2, 1);
        shape.channels += at(3, 0) + at(3, 1);
        if (shape.height > kMaxSide || shape.width > kMaxSide || shape.channels > kMaxSide)
            return bad("node " + node.name + " pads beyond the size a model may have");
        put(node, add(node.name, "Padding", p, {x->port}), shape);
        return std::nullopt;
    }

    std::optional<Error> mean(const tfjs::Node& node) {
        auto x = data(node, 0);
        if (!x) return x.error();
        auto axes = constant(node, 1);
        if (!axes) return axes.error();
        if (x->shape.flat || (*axes)->values != std::vector<float>{1, 2})
            return bad("node " + node.name + " averages over axes seke does not support (only height and width)");
        cv::dnn::LayerParams p;
        p.set("pool", "ave");
        p.set("global_pooling", true);
        const auto* keep = attribute(node, "keep_dims");
        const bool keep_dims = keep && keep->flag;
        Port out = add(keep_dims ? node.name : node.name + "/pool", "Pooling", p, {x->port});
        if (!keep_dims) out = add(node.name, "Flatten", {}, {out});
        put(node, out, Shape{1, 1, x->shape.channels, !keep_dims});
        return std::nullopt;
    }

    // Only the reshape of a 1x1 map (or a vector) to [-1, n] or [1, n]: there NHWC and NCHW agree.
    std::optional<Error> reshape(const tfjs::Node& node) {
        auto x = data(node, 0);
        if (!x) return x.error();
        auto target = constant(node, 1);
        if (!target) return target.error();
        const auto& t = (*target)->values;
        if (t.size() != 2 || (t[0] != -1 && t[0] != 1) || static_cast<int>(t[1]) != x->shape.channels ||
            x->shape.height != 1 || x->shape.width != 1)
            return bad("node " + node.name + " reshapes in a way seke does not support");
        if (x->shape.flat) {
            values_[node.name] = *x;
            return std::nullopt;
        }
        put(node, add(node.name, "Flatten", {}, {x->port}), Shape{1, 1, x->shape.channels, true});
        return std::nullopt;
    }

    std::optional<Error> placeholder(const tfjs::Node& node) {
        const auto* shape = attribute(node, "shape");
        if (!shape || shape->dims.size() != 4 || shape->dims[1] < 1 || shape->dims[2] < 1 || shape->dims[3] < 1 ||
            shape->dims[1] > kMaxSide || shape->dims[2] > kMaxSide || shape->dims[3] > kMaxSide)
            return bad("input " + node.name + " is not an image of a known size");
        if (input_.channels != 0) return bad("the graph has more than one input");
        input_ = Shape{static_cast<int>(shape->dims[1]), static_cast<int>(shape->dims[2]),
                       static_cast<int>(shape->dims[3]), false};
        values_[node.name] = {Port{0, 0}, input_};
        layer_names_[0] = node.name;
        return std::nullopt;
    }

    std::optional<Error> translate(const tfjs::Node& node) {
        const std::string& op = node.op;
        if (op == "Placeholder") return placeholder(node);
        if (op == "_FusedConv2D" || op == "Conv2D") return convolution(node, false);
        if (op == "DepthwiseConv2dNative") return convolution(node, true);
        if (op == "MaxPool") return max_pool(node);
        if (op == "Pad") return pad(node);
        if (op == "Mean") return mean(node);
        if (op == "Reshape") return reshape(node);
        if (op == "Identity") {
            auto x = data(node, 0);
            if (!x) return x.error();
            values_[node.name] = *x;
            return std::nullopt;
        }
        if (op == "AddV2" || op == "Add") {
            auto a = data(node, 0);
            if (!a) return a.error();
            auto b = data(node, 1);
            if (!b) return b.error();
            if (!(a->shape == b->shape)) return bad("node " + node.name + " adds tensors of different shapes");
            put(node, add(node.name, "Eltwise", sum_params(), {a->port, b->port}), a->shape);
            return std::nullopt;
        }
        if (op == "Relu" || op == "Sigmoid") {
            auto x = data(node, 0);
            if (!x) return x.error();
            put(node, add(node.name, op == "Relu" ? "ReLU" : "Sigmoid", {}, {x->port}), x->shape);
            return std::nullopt;
        }
        if (op == "Prelu") {
            auto x = data(node, 0);
            if (!x) return x.error();
            Port out;
            if (auto error = prelu(node, 1, node.name, x->port, x->shape, out)) return error;
            put(node, out, x->shape);
            return std::nullopt;
        }
        if (op == "Softmax") {
            auto x = data(node, 0);
            if (!x) return x.error();
            if (!x->shape.flat) return bad("node " + node.name + " takes the softmax of a map");
            cv::dnn::LayerParams p;
            p.set("axis", 1);
            put(node, add(node.name, "Softmax", p, {x->port}), x->shape);
            return std::nullopt;
        }
        return bad("op " + op + " (node " + node.name + ") is not supported");
    }

    const tfjs::GraphModel& graph_;
    std::string what_;
    std::map<std::string, const tfjs::Node*> by_name_;
    std::map<std::string, Value> values_;
    std::map<int, std::string> layer_names_;
    Shape input_;
    Layers layers_;
};

}  // namespace

Result<GraphNet> build_graph_net(const tfjs::GraphModel& graph, const std::vector<std::string>& outputs,
                                 const std::string& what) {
    try {
        return GraphBuilder(graph, what).build(outputs);
    } catch (const cv::Exception& e) {
        return make_error(errc::config_error, what + ": OpenCV refused the net: " + e.what());
    }
}

cv::Mat nchw(const cv::Mat& image) {
    return cv::dnn::blobFromImage(image, 1.0, cv::Size(), cv::Scalar(), false, false, CV_32F);
}

cv::Mat face_api_input(const cv::Mat& rgb) {
    cv::Mat out;
    cv::subtract(rgb, cv::Scalar(122.782, 117.001, 104.298), out);
    return out / 255.0;
}

cv::Mat facemesh_blob(const cv::Mat& rgb) {
    return nchw(rgb / 255.0);
}

cv::Mat emotion_blob(const cv::Mat& rgb) {
    cv::Mat grey(rgb.size(), CV_32F);
    for (int y = 0; y < rgb.rows; ++y) {
        const auto* row = rgb.ptr<cv::Vec3f>(y);
        auto* dst = grey.ptr<float>(y);
        for (int x = 0; x < rgb.cols; ++x) {
            // Human multiplies the [0, 1] pixels by the weights, sums the channels, then rescales.
            const float g = row[x][0] / 255.0f * 0.2989f + row[x][1] / 255.0f * 0.5870f + row[x][2] / 255.0f * 0.1140f;
            dst[x] = (g - 0.5f) * 2.0f;
        }
    }
    return nchw(grey);
}

}  // namespace seke
