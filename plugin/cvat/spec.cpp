#include "plugin/cvat/spec.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "verify/text.hpp"

namespace seke::cvat {
namespace {

using nlohmann::json;

std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream in(list);
    for (std::string item; std::getline(in, item, ',');)
        if (std::string t = trim(item); !t.empty()) out.push_back(t);
    return out;
}

bool valid_function_name(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

std::string digits(long long value) {
    return std::to_string(std::max(0LL, value));
}

AttributeSpec number_attribute(const std::string& name, long long max) {
    return {name, "number", {"0", digits(max), "1"}, false};
}

json attribute_json(const AttributeSpec& a) {
    return {{"name", a.name}, {"input_type", a.input_type}, {"values", a.values}, {"mutable", a.mutable_across_frames}};
}

std::vector<double> rectangle_points(const LabeledFace& face, int width, int height) {
    if (!face.box) return {0.0, 0.0, static_cast<double>(width), static_cast<double>(height)};
    const Box& b = *face.box;
    return {static_cast<double>(b.x), static_cast<double>(b.y), static_cast<double>(b.x + b.w),
            static_cast<double>(b.y + b.h)};
}

long long label_id(const json& label) {
    return label.contains("id") && label["id"].is_number_integer() ? label["id"].get<long long>() : -1;
}

}  // namespace

Result<FunctionSpec> make_function_spec(const CvatSettings& settings, const Knowledge& knowledge) {
    if (!valid_function_name(settings.function_name))
        return make_error(errc::config_error, "option cvat.function_name: \"" + settings.function_name +
                                                  "\" must be letters, digits, _ . - only (CVAT routes by it)");
    if (trim(settings.face_label).empty()) return make_error(errc::config_error, "option cvat.face_label is empty");
    if (settings.frame_tag_label == settings.face_label)
        return make_error(errc::config_error, "option cvat.frame_tag_label must differ from cvat.face_label");
    FunctionSpec spec;
    spec.settings = settings;
    if (settings.expression_values.empty()) {
        for (const auto& e : knowledge.expressions) spec.expression_values.push_back(e.name);
    } else {
        spec.expression_values = split_list(settings.expression_values);
    }
    for (const auto& value : spec.expression_values) {
        auto canonical = knowledge.canonical_expression(value);
        if (!canonical)
            return make_error(errc::config_error, "option cvat.expression_values: \"" + value +
                                                      "\" is not an expression of the knowledge file");
        spec.expression_value.emplace(*canonical, value);  // the first spelling of a class wins
    }
    for (const auto& e : knowledge.expressions)
        if (!spec.expression_value.count(e.name))
            return make_error(errc::config_error,
                              "option cvat.expression_values: no value for the expression \"" + e.name + "\"");
    for (const auto& au : knowledge.action_units) spec.action_units.push_back(au.code);

    const long long va_max = 2LL * settings.va_scale;
    LabelSpec face{settings.face_label, "rectangle", {}};
    face.attributes.push_back({kExpressionAttribute, "select", spec.expression_values, false});
    face.attributes.push_back(number_attribute(kValenceAttribute, va_max));
    face.attributes.push_back(number_attribute(kArousalAttribute, va_max));
    for (const auto& code : spec.action_units) face.attributes.push_back({code, "checkbox", {"false"}, false});
    if (!settings.confidence_attribute.empty())
        face.attributes.push_back(number_attribute(settings.confidence_attribute, 100));
    if (!settings.model_attribute.empty()) face.attributes.push_back({settings.model_attribute, "text", {""}, false});
    std::set<std::string> names;
    for (const auto& a : face.attributes)
        if (!names.insert(a.name).second)
            return make_error(errc::config_error, "the face label has two attributes named \"" + a.name +
                                                      "\"; rename cvat.confidence_attribute or cvat.model_attribute");
    spec.labels.push_back(std::move(face));
    if (!settings.frame_tag_label.empty()) {
        LabelSpec tag{settings.frame_tag_label, "tag", {}};
        std::vector<std::string> values = spec.expression_values;
        values.emplace_back(kNoFaceValue);
        tag.attributes.push_back({kExpressionAttribute, "select", values, false});
        tag.attributes.push_back(number_attribute(kFacesVisibleAttribute, 1000));
        spec.labels.push_back(std::move(tag));
    }
    return spec;
}

std::string encode_va(double value, int scale) {
    if (!std::isfinite(value)) value = 0;
    long long n = std::llround(std::clamp(value, -1.0, 1.0) * scale) + scale;
    return digits(std::clamp<long long>(n, 0, 2LL * scale));
}

std::optional<double> decode_va(const std::string& text, int scale) {
    if (text.empty() || text.size() > 9 || scale <= 0) return std::nullopt;
    if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    long long n = std::stoll(text);
    if (n > 2LL * scale) return std::nullopt;
    return static_cast<double>(n - scale) / scale;
}

json spec_labels_json(const FunctionSpec& spec) {
    json labels = json::array();
    for (std::size_t i = 0; i < spec.labels.size(); ++i) {
        const LabelSpec& l = spec.labels[i];
        json attributes = json::array();
        for (const auto& a : l.attributes) attributes.push_back(attribute_json(a));
        labels.push_back({{"id", i}, {"name", l.name}, {"type", l.type}, {"attributes", attributes}});
    }
    return labels;
}

json function_object(const FunctionSpec& spec, const std::string& model_version, int http_port) {
    return {{"metadata",
             {{"name", spec.settings.function_name},
              {"namespace", "cvat"},
              {"annotations",
               {{"type", "detector"},
                {"name", spec.settings.display_name},
                {"framework", "seke"},
                {"version", "1"},
                {"model_version", model_version},
                {"spec", spec_labels_json(spec).dump()}}}}},
            {"spec",
             {{"description",
               "Face emotion pre-labels: expression, valence-arousal and action units per face, "
               "with seke's confidence (" +
                   model_version + ")"}}},
            {"status", {{"state", "ready"}, {"httpPort", http_port}}}};
}

std::string function_yaml(const FunctionSpec& spec, const std::string& model_version) {
    // JSON is valid YAML: scalars are emitted as JSON strings so no value needs YAML quoting rules.
    auto q = [](const std::string& text) { return json(text).dump(); };
    std::ostringstream y;
    y << "# seke's function for CVAT. seke serve answers CVAT directly (point CVAT_NUCLIO_HOST and\n"
      << "# CVAT_NUCLIO_PORT at it); deploy this only to run seke behind a real Nuclio dashboard.\n"
      << "metadata:\n"
      << "  name: " << q(spec.settings.function_name) << "\n"
      << "  namespace: cvat\n"
      << "  annotations:\n"
      << "    name: " << q(spec.settings.display_name) << "\n"
      << "    type: detector\n"
      << "    framework: seke\n"
      << "    version: \"1\"\n"
      << "    model_version: " << q(model_version) << "\n"
      << "    spec: |\n";
    std::istringstream pretty(spec_labels_json(spec).dump(2));
    for (std::string line; std::getline(pretty, line);) y << "      " << line << "\n";
    y << "spec:\n"
      << "  description: " << q("seke face emotion pre-labels (" + model_version + ")") << "\n"
      << "  handler: seke:serve\n"
      << "  eventTimeout: 300s\n"
      << "  triggers:\n"
      << "    myHttpTrigger:\n"
      << "      kind: http\n"
      << "      maxWorkers: 2\n"
      << "      workerAvailabilityTimeoutMilliseconds: 10000\n"
      << "      attributes:\n"
      << "        maxRequestBodySize: 67108864\n";
    return y.str();
}

json project_labels_json(const FunctionSpec& spec) {
    json labels = json::array();
    for (const auto& l : spec.labels) {
        json attributes = json::array();
        for (const auto& a : l.attributes) {
            json attr = attribute_json(a);
            attr["default_value"] = a.values.empty() ? "" : a.values[0];
            attributes.push_back(std::move(attr));
        }
        labels.push_back({{"name", l.name}, {"type", l.type}, {"attributes", attributes}});
    }
    return labels;
}

LabeledFace labeled_face_from_record(const FeidRecord& record) {
    // An unknown uncertainty is no confidence at all.
    double overall = record.uncertainty.overall.value_or(1);
    return {record.face, record.labels, 1 - std::clamp(overall, 0.0, 1.0)};
}

std::vector<std::pair<std::string, std::string>> face_attributes(const FunctionSpec& spec, const LabeledFace& face,
                                                                 const std::string& model_version) {
    const CvatSettings& s = spec.settings;
    std::vector<std::pair<std::string, std::string>> out;
    if (face.labels.expression)
        if (auto it = spec.expression_value.find(*face.labels.expression); it != spec.expression_value.end())
            out.emplace_back(kExpressionAttribute, it->second);
    if (face.labels.valence) out.emplace_back(kValenceAttribute, encode_va(*face.labels.valence, s.va_scale));
    if (face.labels.arousal) out.emplace_back(kArousalAttribute, encode_va(*face.labels.arousal, s.va_scale));
    if (face.labels.action_units) {
        const auto& present = *face.labels.action_units;
        for (const auto& code : spec.action_units)
            out.emplace_back(code, std::find(present.begin(), present.end(), code) != present.end() ? "true" : "false");
    }
    if (!s.confidence_attribute.empty())
        out.emplace_back(
            s.confidence_attribute,
            digits(std::llround(std::clamp(std::isfinite(face.confidence) ? face.confidence : 0.0, 0.0, 1.0) * 100)));
    if (!s.model_attribute.empty()) out.emplace_back(s.model_attribute, model_version);
    return out;
}

json detector_response(const FunctionSpec& spec, const std::vector<LabeledFace>& faces, int width, int height,
                       double threshold, const std::string& model_version) {
    json out = json::array();
    std::vector<LabeledFace> kept;
    for (const auto& face : faces)
        if (face.confidence >= threshold) kept.push_back(face);
    for (const auto& face : kept) {
        json attributes = json::array();
        for (auto& [name, value] : face_attributes(spec, face, model_version))
            attributes.push_back({{"name", name}, {"value", value}});
        char confidence[16];
        std::snprintf(confidence, sizeof confidence, "%.2f", std::clamp(face.confidence, 0.0, 1.0));
        out.push_back({{"label", spec.settings.face_label},
                       {"type", "rectangle"},
                       {"points", rectangle_points(face, width, height)},
                       {"confidence", confidence},
                       {"attributes", attributes}});
    }
    if (!spec.settings.frame_tag_label.empty()) {
        json attributes = json::array();
        for (auto& [name, value] : frame_tag_attributes(kept, spec.expression_value))
            attributes.push_back({{"name", name}, {"value", value}});
        out.push_back({{"label", spec.settings.frame_tag_label}, {"type", "tag"}, {"attributes", attributes}});
    }
    return out;
}

std::optional<std::size_t> frame_tag_face(const std::vector<LabeledFace>& faces) {
    std::optional<std::size_t> best;
    double best_area = -1;
    for (std::size_t i = 0; i < faces.size(); ++i) {
        double area = faces[i].box ? static_cast<double>(faces[i].box->w) * faces[i].box->h : 1e18;
        if (area > best_area) best_area = area, best = i;
    }
    return best;
}

std::vector<std::pair<std::string, std::string>> frame_tag_attributes(
    const std::vector<LabeledFace>& faces, const std::map<std::string, std::string>& expression_value) {
    std::string expression = kNoFaceValue;
    if (auto face = frame_tag_face(faces))
        if (const auto& e = faces[*face].labels.expression)
            if (auto it = expression_value.find(*e); it != expression_value.end()) expression = it->second;
    return {{kExpressionAttribute, expression}, {kFacesVisibleAttribute, std::to_string(faces.size())}};
}

Result<TaskBinding> bind_task_labels(const FunctionSpec& spec, const Knowledge& knowledge, const json& labels_in) {
    const json& labels = labels_in.is_object() && labels_in.contains("results") ? labels_in["results"] : labels_in;
    if (!labels.is_array()) return make_error(errc::bad_json, "CVAT labels: expected a list of labels");
    TaskBinding binding;
    auto bind_attributes = [&](const json& label, const LabelSpec& wanted, std::map<std::string, long long>& ids) {
        std::map<std::string, const json*> by_name;
        if (label.contains("attributes") && label["attributes"].is_array())
            for (const auto& a : label["attributes"])
                if (a.is_object() && a.contains("name") && a["name"].is_string())
                    by_name[a["name"].get<std::string>()] = &a;
        for (const auto& want : wanted.attributes) {
            auto it = by_name.find(want.name);
            if (it == by_name.end()) {
                binding.problems.push_back("label \"" + wanted.name + "\" has no attribute \"" + want.name +
                                           "\"; it is not written");
                continue;
            }
            const json& a = *it->second;
            // A field of the wrong type (CVAT answers are outside input) reads as absent.
            std::string input_type = a.is_object() && a.contains("input_type") && a["input_type"].is_string()
                                         ? a["input_type"].get<std::string>()
                                         : std::string();
            bool compatible = input_type == want.input_type || input_type == "text" ||
                              (want.input_type == "select" && input_type == "radio");
            if (!compatible || label_id(a) < 0) {
                binding.problems.push_back("attribute \"" + want.name + "\" of \"" + wanted.name + "\" is " +
                                           input_type + ", seke writes " + want.input_type + "; it is not written");
                continue;
            }
            ids[want.name] = label_id(a);
            if (want.name == kExpressionAttribute && &ids == &binding.face_spec_ids && a.contains("values") &&
                a["values"].is_array() && input_type != "text") {
                for (const auto& v : a["values"])
                    if (v.is_string())
                        if (auto canonical = knowledge.canonical_expression(v.get<std::string>()))
                            binding.expression_value.emplace(*canonical, v.get<std::string>());
                for (const auto& e : knowledge.expressions)
                    if (!binding.expression_value.count(e.name))
                        binding.problems.push_back("the task's expression values have none for \"" + e.name +
                                                   "\"; such faces get no expression attribute");
            }
        }
    };
    for (const auto& label : labels) {
        if (!label.is_object() || !label.contains("name") || !label["name"].is_string()) continue;
        std::string name = label["name"].get<std::string>();
        std::string type =
            label.contains("type") && label["type"].is_string() ? label["type"].get<std::string>() : "any";
        if (name == spec.settings.face_label && binding.face_label_id < 0) {
            if (type != "rectangle" && type != "any")
                return make_error(errc::invalid_argument,
                                  "CVAT label \"" + name + "\" is of type " + type + "; seke writes rectangles");
            binding.face_label_id = label_id(label);
            bind_attributes(label, spec.labels[0], binding.face_spec_ids);
        } else if (!spec.settings.frame_tag_label.empty() && name == spec.settings.frame_tag_label &&
                   spec.labels.size() > 1) {
            if (type != "tag" && type != "any") {
                binding.problems.push_back("label \"" + name + "\" is not a tag label; no frame tags are written");
                continue;
            }
            binding.tag_label_id = label_id(label);
            bind_attributes(label, spec.labels[1], binding.tag_spec_ids);
        }
    }
    if (binding.face_label_id < 0)
        return make_error(errc::invalid_argument, "the CVAT task has no label named \"" + spec.settings.face_label +
                                                      "\" (create it with `seke cvat spec --labels`)");
    if (binding.expression_value.empty() && binding.face_spec_ids.count(kExpressionAttribute))
        binding.expression_value = spec.expression_value;  // a text attribute takes seke's spelling
    return binding;
}

json rest_shape(const FunctionSpec& spec, const TaskBinding& binding, const LabeledFace& face, long long frame,
                int width, int height, const std::string& model_version) {
    json attributes = json::array();
    for (auto& [name, value] : face_attributes(spec, face, model_version)) {
        auto id = binding.face_spec_ids.find(name);
        if (id == binding.face_spec_ids.end()) continue;
        if (name == kExpressionAttribute) {
            auto task_value = binding.expression_value.find(*face.labels.expression);
            if (task_value == binding.expression_value.end()) continue;
            value = task_value->second;
        }
        attributes.push_back({{"spec_id", id->second}, {"value", value}});
    }
    return {{"type", "rectangle"},
            {"frame", frame},
            {"label_id", binding.face_label_id},
            {"points", rectangle_points(face, width, height)},
            {"rotation", 0},
            {"occluded", false},
            {"outside", false},
            {"z_order", 0},
            {"group", 0},
            {"source", "auto"},
            {"attributes", attributes}};
}

std::optional<json> rest_tag(const FunctionSpec& spec, const TaskBinding& binding,
                             const std::vector<LabeledFace>& faces, long long frame) {
    if (spec.settings.frame_tag_label.empty() || binding.tag_label_id < 0) return std::nullopt;
    // The task's spelling, the face label's; seke's own when that label has no expression values.
    const auto& spelling = binding.expression_value.empty() ? spec.expression_value : binding.expression_value;
    json attributes = json::array();
    for (auto& [name, value] : frame_tag_attributes(faces, spelling))
        if (auto id = binding.tag_spec_ids.find(name); id != binding.tag_spec_ids.end())
            attributes.push_back({{"spec_id", id->second}, {"value", value}});
    return json{{"frame", frame},
                {"label_id", binding.tag_label_id},
                {"group", 0},
                {"source", "auto"},
                {"attributes", attributes}};
}

ReadLabels labels_from_attributes(const FunctionSpec& spec, const Knowledge& knowledge,
                                  const std::vector<std::pair<std::string, std::string>>& attributes) {
    ReadLabels out;
    std::map<std::string, std::string> by_name(attributes.begin(), attributes.end());
    if (auto it = by_name.find(kExpressionAttribute); it != by_name.end()) {
        if (auto canonical = knowledge.canonical_expression(it->second)) out.labels.expression = *canonical;
        else out.problems.push_back("expression \"" + it->second + "\" is not a known expression");
    }
    auto read_va = [&](const char* name, std::optional<double>& into) {
        auto it = by_name.find(name);
        if (it == by_name.end()) return;
        into = decode_va(it->second, spec.settings.va_scale);
        if (!into)
            out.problems.push_back(std::string(name) + " \"" + it->second + "\" is not a number from 0 to " +
                                   std::to_string(2 * spec.settings.va_scale));
    };
    read_va(kValenceAttribute, out.labels.valence);
    read_va(kArousalAttribute, out.labels.arousal);
    if (out.labels.valence.has_value() != out.labels.arousal.has_value()) {
        out.problems.emplace_back("valence and arousal are read only together");
        out.labels.valence.reset();
        out.labels.arousal.reset();
    }
    std::vector<std::string> present;
    bool any_au = false;
    for (const auto& code : spec.action_units) {
        auto it = by_name.find(code);
        if (it == by_name.end()) continue;
        any_au = true;
        if (iequals(it->second, "true")) present.push_back(code);
        else if (!iequals(it->second, "false"))
            out.problems.push_back(code + " \"" + it->second + "\" is not true or false");
    }
    if (any_au) out.labels.action_units = std::move(present);
    return out;
}

}  // namespace seke::cvat
