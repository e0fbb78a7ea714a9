#include "connectors/tfjs_model.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "connectors/crypto.hpp"

namespace seke::tfjs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Bounds on what a model file may ask for. The largest model seke reads (facemesh) has a 96 KB
// model.json, 241 nodes and a 1.5 MB shard; these leave room and refuse absurd files.
constexpr std::uintmax_t kMaxJsonBytes = 16u << 20;
constexpr std::uintmax_t kMaxShardBytes = 64u << 20;
constexpr std::size_t kMaxGroups = 64, kMaxPathsPerGroup = 64, kMaxWeightsPerGroup = 8192;
constexpr std::size_t kMaxDims = 6, kMaxElements = 16u << 20;
constexpr long long kMaxDim = 65536;
constexpr std::size_t kMaxNodes = 20000, kMaxInputs = 64, kMaxAttributes = 64, kMaxListItems = 256;

std::string fetch_hint() {
    return " (run scripts/fetch-models.sh)";
}

Error bad(const std::string& what, const std::string& path, const std::string& why) {
    return make_error(errc::config_error, what + " " + path + ": " + why);
}

Result<std::string> read_bounded(const fs::path& path, std::uintmax_t limit, const std::string& what) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return make_error(errc::not_found, "no " + what + " file at " + path.string() + fetch_hint());
    const auto size = fs::file_size(path, ec);
    if (ec) return make_error(errc::io_error, "cannot stat " + path.string() + ": " + ec.message());
    if (size > limit)
        return bad(what, path.string(), "the file has " + std::to_string(size) + " bytes, more than a model may have");
    std::ifstream in(path, std::ios::binary);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (!in || static_cast<std::uintmax_t>(in.gcount()) != size)
        return make_error(errc::io_error, "short read on " + path.string());
    return bytes;
}

Result<json> read_json(const fs::path& path, const std::string& what) {
    auto text = read_bounded(path, kMaxJsonBytes, what);
    if (!text) return text.error();
    json parsed = json::parse(*text, nullptr, false);
    if (parsed.is_discarded()) return bad(what, path.string(), "not JSON");
    return parsed;
}

// IEEE half to float, as tfjs's float16 dequantisation does it.
float half_to_float(std::uint16_t h) {
    const int sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude = 0;
    if (exponent == 0) magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    else if (exponent == 31) magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : INFINITY;
    else magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
    return sign ? -magnitude : magnitude;
}

enum class Storage { float32, int32, uint8, uint16, float16 };

std::size_t bytes_per_value(Storage storage) {
    switch (storage) {
        case Storage::uint8: return 1;
        case Storage::uint16:
        case Storage::float16: return 2;
        case Storage::float32:
        case Storage::int32: return 4;
    }
    return 4;
}

struct Spec {
    std::string name;
    std::vector<int> shape;
    std::size_t count = 1;
    Storage storage = Storage::float32;
    double scale = 1, minimum = 0;  // uint8/uint16: value = q * scale + minimum
};

// One entry of a group's "weights": name, shape, dtype and optional quantization.
Result<Spec> read_spec(const json& entry, const std::string& what, const std::string& path) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("shape") ||
        !entry["shape"].is_array())
        return bad(what, path, "a weight entry without name and shape");
    Spec spec;
    spec.name = entry["name"].get<std::string>();
    if (entry["shape"].size() > kMaxDims) return bad(what, path, "weight " + spec.name + " has too many dimensions");
    for (const auto& d : entry["shape"]) {
        if (!d.is_number_integer() || d.get<long long>() <= 0 || d.get<long long>() > kMaxDim)
            return bad(what, path, "weight " + spec.name + " has a bad dimension");
        spec.shape.push_back(d.get<int>());
        spec.count *= static_cast<std::size_t>(d.get<int>());
        if (spec.count > kMaxElements) return bad(what, path, "weight " + spec.name + " is larger than a model may be");
    }
    const std::string dtype = entry.value("dtype", std::string("float32"));
    if (dtype != "float32" && dtype != "int32")
        return bad(what, path, "weight " + spec.name + " has dtype " + dtype + ", which is not supported");
    spec.storage = dtype == "int32" ? Storage::int32 : Storage::float32;
    if (entry.contains("quantization")) {
        const auto& q = entry["quantization"];
        const std::string kind = q.is_object() ? q.value("dtype", std::string()) : std::string();
        if (kind == "uint8" || kind == "uint16") {
            if (!q.contains("scale") || !q["scale"].is_number() || !q.contains("min") || !q["min"].is_number())
                return bad(what, path, "weight " + spec.name + " is quantised without scale and min");
            spec.storage = kind == "uint8" ? Storage::uint8 : Storage::uint16;
            spec.scale = q["scale"].get<double>();
            spec.minimum = q["min"].get<double>();
        } else if (kind == "float16" && dtype == "float32") {
            spec.storage = Storage::float16;
        } else {
            return bad(what, path, "weight " + spec.name + " has quantization " + kind + ", which is not supported");
        }
    }
    return spec;
}

Weight decode(const Spec& spec, const unsigned char* raw) {
    Weight w;
    w.shape = spec.shape;
    w.values.resize(spec.count);
    for (std::size_t i = 0; i < spec.count; ++i) {
        switch (spec.storage) {
            case Storage::uint8: w.values[i] = static_cast<float>(raw[i] * spec.scale + spec.minimum); break;
            case Storage::uint16: {
                const unsigned q = raw[2 * i] | (raw[2 * i + 1] << 8);  // little-endian, as tfjs writes
                w.values[i] = static_cast<float>(q * spec.scale + spec.minimum);
                break;
            }
            case Storage::float16:
                w.values[i] = half_to_float(static_cast<std::uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8)));
                break;
            case Storage::float32: std::memcpy(&w.values[i], raw + 4 * i, 4); break;
            case Storage::int32: {
                std::int32_t v = 0;
                std::memcpy(&v, raw + 4 * i, 4);
                w.values[i] = static_cast<float>(v);
                break;
            }
        }
    }
    return w;
}

// A weights manifest: [{paths: [...], weights: [...]}...], shards in the manifest's folder.
Result<WeightMap> read_groups(const json& manifest, const fs::path& folder, const std::string& what,
                              const std::string& path) {
    if (!manifest.is_array()) return bad(what, path, "not a TensorFlow.js weights manifest (expected a JSON array)");
    if (manifest.size() > kMaxGroups) return bad(what, path, "too many weight groups");
    WeightMap weights;
    for (const auto& group : manifest) {
        if (!group.is_object() || !group.contains("paths") || !group.contains("weights") ||
            !group["paths"].is_array() || !group["weights"].is_array())
            return bad(what, path, "a weight group without paths and weights");
        if (group["paths"].size() > kMaxPathsPerGroup || group["weights"].size() > kMaxWeightsPerGroup)
            return bad(what, path, "a weight group larger than a model may have");
        std::string bytes;
        for (const auto& shard : group["paths"]) {
            if (!shard.is_string()) return bad(what, path, "a weight path that is not a string");
            const fs::path name = shard.get<std::string>();
            // Shards are plain file names beside the manifest: nothing else is read.
            if (name.empty() || name != name.filename() || name == ".." || name == ".")
                return bad(what, path, "weight path " + name.string() + " is not a file name");
            auto content = read_bounded(folder / name, kMaxShardBytes - bytes.size(), what + " weights");
            if (!content) return content.error();
            bytes += *content;
        }
        std::size_t offset = 0;
        for (const auto& entry : group["weights"]) {
            auto spec = read_spec(entry, what, path);
            if (!spec) return spec.error();
            const std::size_t length = spec->count * bytes_per_value(spec->storage);
            if (offset + length > bytes.size()) return bad(what, path, "the weight files are shorter than it says");
            weights[spec->name] = decode(*spec, reinterpret_cast<const unsigned char*>(bytes.data() + offset));
            offset += length;
        }
        if (offset != bytes.size()) return bad(what, path, "the weight files are longer than it says");
    }
    return weights;
}

std::optional<std::string> decoded_text(const json& value) {
    if (!value.is_string()) return std::nullopt;
    return base64_decode(value.get<std::string>());
}

Result<Attribute> read_attribute(const json& value, const std::string& what, const std::string& path) {
    Attribute a;
    if (!value.is_object()) return bad(what, path, "a node attribute that is not an object");
    auto integer = [](const json& v) -> std::optional<std::int64_t> {
        // GraphDef-as-JSON writes 64-bit integers as strings.
        if (v.is_number_integer()) return v.get<std::int64_t>();
        if (!v.is_string()) return std::nullopt;
        try {
            std::size_t used = 0;
            const long long parsed = std::stoll(v.get<std::string>(), &used);
            if (used != v.get<std::string>().size()) return std::nullopt;
            return parsed;
        } catch (const std::exception&) {
            return std::nullopt;
        }
    };
    if (value.contains("s")) {
        auto text = decoded_text(value["s"]);
        if (!text) return bad(what, path, "a node attribute with bad base64");
        a.text = std::move(*text);
    }
    if (value.contains("i")) {
        auto i = integer(value["i"]);
        if (!i) return bad(what, path, "a node attribute with a bad integer");
        a.integers.push_back(*i);
    }
    if (value.contains("b")) a.flag = value["b"].is_boolean() && value["b"].get<bool>();
    if (value.contains("f") && value["f"].is_number()) a.number = value["f"].get<double>();
    if (value.contains("shape") && value["shape"].is_object() && value["shape"].contains("dim") &&
        value["shape"]["dim"].is_array()) {
        if (value["shape"]["dim"].size() > kMaxDims) return bad(what, path, "a node shape with too many dimensions");
        for (const auto& d : value["shape"]["dim"]) {
            auto size = d.is_object() && d.contains("size") ? integer(d["size"]) : std::nullopt;
            if (!size) return bad(what, path, "a node shape with a bad dimension");
            a.dims.push_back(*size);
        }
    }
    if (value.contains("list") && value["list"].is_object()) {
        const auto& list = value["list"];
        if (list.contains("s") && list["s"].is_array()) {
            if (list["s"].size() > kMaxListItems) return bad(what, path, "a node attribute list that is too long");
            for (const auto& s : list["s"]) {
                auto text = decoded_text(s);
                if (!text) return bad(what, path, "a node attribute with bad base64");
                a.texts.push_back(std::move(*text));
            }
        }
        if (list.contains("i") && list["i"].is_array()) {
            if (list["i"].size() > kMaxListItems) return bad(what, path, "a node attribute list that is too long");
            for (const auto& v : list["i"]) {
                auto i = integer(v);
                if (!i) return bad(what, path, "a node attribute with a bad integer");
                a.integers.push_back(*i);
            }
        }
    }
    return a;
}

Result<Node> read_node(const json& entry, const std::string& what, const std::string& path) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("op") ||
        !entry["op"].is_string())
        return bad(what, path, "a graph node without name and op");
    Node node;
    node.name = entry["name"].get<std::string>();
    node.op = entry["op"].get<std::string>();
    if (entry.contains("input")) {
        if (!entry["input"].is_array() || entry["input"].size() > kMaxInputs)
            return bad(what, path, "node " + node.name + " has a bad input list");
        for (const auto& input : entry["input"]) {
            if (!input.is_string()) return bad(what, path, "node " + node.name + " has an input that is not a name");
            node.inputs.push_back(input.get<std::string>());
        }
    }
    if (entry.contains("attr")) {
        if (!entry["attr"].is_object() || entry["attr"].size() > kMaxAttributes)
            return bad(what, path, "node " + node.name + " has bad attributes");
        for (const auto& [key, value] : entry["attr"].items()) {
            auto attribute = read_attribute(value, what, path);
            if (!attribute) return attribute.error();
            node.attributes.emplace(key, std::move(*attribute));
        }
    }
    return node;
}

}  // namespace

Result<WeightMap> read_weights_manifest(const std::string& manifest_path, const std::string& what) {
    auto manifest = read_json(manifest_path, what);
    if (!manifest) return manifest.error();
    return read_groups(*manifest, fs::path(manifest_path).parent_path(), what, manifest_path);
}

Result<GraphModel> read_graph_model(const std::string& model_json_path, const std::string& what) {
    auto model = read_json(model_json_path, what);
    if (!model) return model.error();
    const std::string& path = model_json_path;
    if (!model->is_object() || model->value("format", std::string()) != "graph-model")
        return bad(what, path, "not a TensorFlow.js graph model (no \"format\": \"graph-model\")");
    if (!model->contains("modelTopology") || !(*model)["modelTopology"].is_object() ||
        !(*model)["modelTopology"].contains("node") || !(*model)["modelTopology"]["node"].is_array())
        return bad(what, path, "no modelTopology.node list");
    if (!model->contains("weightsManifest")) return bad(what, path, "no weightsManifest");
    const json& nodes = (*model)["modelTopology"]["node"];
    if (nodes.size() > kMaxNodes) return bad(what, path, "more graph nodes than a model may have");
    GraphModel graph;
    for (const auto& entry : nodes) {
        auto node = read_node(entry, what, path);
        if (!node) return node.error();
        graph.nodes.push_back(std::move(*node));
    }
    auto weights = read_groups((*model)["weightsManifest"], fs::path(path).parent_path(), what, path);
    if (!weights) return weights.error();
    graph.weights = std::move(*weights);
    if (model->contains("signature") && (*model)["signature"].is_object() &&
        (*model)["signature"].contains("outputs") && (*model)["signature"]["outputs"].is_object()) {
        for (const auto& [key, value] : (*model)["signature"]["outputs"].items()) {
            if (!value.is_object() || !value.contains("name") || !value["name"].is_string()) continue;
            std::string tensor = value["name"].get<std::string>();
            graph.outputs[key] = tensor.substr(0, tensor.find(':'));  // "Identity_2:0" is node Identity_2
        }
    }
    if (graph.outputs.empty()) {
        // No signature: as tfjs does, the outputs are the nodes nothing else reads.
        std::set<std::string> read;
        for (const auto& node : graph.nodes)
            for (const auto& input : node.inputs)
                read.insert(input.substr(!input.empty() && input.front() == '^' ? 1 : 0));
        for (const auto& node : graph.nodes)
            if (node.op != "Const" && !read.count(node.name) && !read.count(node.name + ":0"))
                graph.outputs[node.name] = node.name;
    }
    return graph;
}

Result<const Weight*> find_weight(const WeightMap& weights, const std::string& name, const std::vector<int>& shape,
                                  const std::string& what) {
    auto it = weights.find(name);
    if (it == weights.end()) return make_error(errc::config_error, what + " has no weight " + name);
    if (it->second.shape != shape) {
        std::string got;
        for (int d : it->second.shape) got += (got.empty() ? "" : "x") + std::to_string(d);
        return make_error(errc::config_error, what + ": weight " + name + " has an unexpected shape (" + got + ")");
    }
    return &it->second;
}

}  // namespace seke::tfjs
