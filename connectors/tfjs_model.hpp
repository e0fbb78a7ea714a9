#pragma once
// TensorFlow.js model files, as the npm packages ship them: a weights manifest (face-api: a JSON
// list of weight groups, each naming its .bin shards) or a graph model (Human: model.json with
// a GraphDef-as-JSON topology and the same kind of manifest). Weights come back as float32,
// dequantised the way tfjs does it. Every size read from a file is bounded.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "verify/errors.hpp"

namespace seke::tfjs {

struct Weight {
    std::vector<int> shape;     // as stored: HWIO for convolution kernels
    std::vector<float> values;  // row-major; int32 weights (shapes, paddings) converted exactly
    std::size_t size() const noexcept { return values.size(); }
};
using WeightMap = std::map<std::string, Weight>;

// One attribute of a graph node, decoded from the JSON form of a TensorFlow AttrValue.
struct Attribute {
    std::string text;                    // "s" (base64 in the file, decoded here)
    std::vector<std::string> texts;      // "list": {"s": [...]}
    std::vector<std::int64_t> integers;  // "i", or "list": {"i": [...]}
    bool flag = false;                   // "b"
    double number = 0;                   // "f"
    std::vector<std::int64_t> dims;      // "shape": {"dim": [{"size": ...}]}, -1 for any size
};

struct Node {
    std::string name, op;
    std::vector<std::string> inputs;  // node names; ":k" output suffixes and "^" controls kept as written
    std::map<std::string, Attribute> attributes;
};

struct GraphModel {
    std::vector<Node> nodes;  // file order
    WeightMap weights;        // the values of the Const nodes, by node name
    // Signature output name -> node name; without a signature, each node nothing reads, by its name.
    std::map<std::string, std::string> outputs;
};

// `what` names the model in messages ("face expression model"). Errors: not_found (a file is
// missing: the message says to run scripts/fetch-models.sh), config_error (a file that is not a
// well-formed model: bad JSON, shapes or sizes out of bounds, weight files too short or too long).
Result<WeightMap> read_weights_manifest(const std::string& manifest_path, const std::string& what);
Result<GraphModel> read_graph_model(const std::string& model_json_path, const std::string& what);

// The weight `name` with exactly `shape`, or a config_error naming the model and the weight.
Result<const Weight*> find_weight(const WeightMap& weights, const std::string& name, const std::vector<int>& shape,
                                  const std::string& what);

}  // namespace seke::tfjs
