#include "plugin/label_studio/predict_request.hpp"

#include <cmath>
#include <sstream>

#include "verify/text.hpp"

namespace seke::label_studio {
namespace {

using nlohmann::json;

// The member `key` of `object` when it exists; null otherwise.
const json* member(const json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

// A prior label in [-1, 1], written as a number or as a numeric string.
std::optional<double> prior_number(const json& data, const std::string& key) {
    if (key.empty() || !data.contains(key)) return std::nullopt;
    const json& v = data[key];
    double x = v.is_number() ? v.get<double>() : NAN;
    if (v.is_string()) {
        try {
            x = std::stod(v.get<std::string>());
        } catch (...) {
            return std::nullopt;
        }
    }
    if (!std::isfinite(x) || x < -1 || x > 1) return std::nullopt;
    return x;
}

void read_prior_labels(const json& data, const PriorLabelKeys& keys, const Knowledge& knowledge, PredictTask& task) {
    if (!keys.expression.empty() && data.contains(keys.expression) && data[keys.expression].is_string())
        if (auto name = knowledge.canonical_expression(data[keys.expression].get<std::string>())) {
            task.known.expression = *name;
            task.provenance.expression = Provenance::source;
        }
    task.known.valence = prior_number(data, keys.valence);
    task.known.arousal = prior_number(data, keys.arousal);
    if (task.known.valence || task.known.arousal) task.provenance.va = Provenance::source;
    if (!keys.action_units.empty() && data.contains(keys.action_units) && data[keys.action_units].is_array()) {
        std::vector<std::string> units;
        for (const auto& code : data[keys.action_units])
            if (code.is_string())
                if (auto canonical = knowledge.canonical_action_unit(code.get<std::string>()))
                    units.push_back(*canonical);
        task.known.action_units = std::move(units);
        task.provenance.au = Provenance::source;
    }
}

PredictTask parse_task(const json& task, const std::string& image_key, const PredictParsing& parsing) {
    PredictTask out;
    if (const json* id = member(task, "id"); id && id->is_number_integer()) out.id = id->get<long long>();
    const json* data = member(task, "data");
    if (!data || !data->is_object()) {
        out.unusable = make_error(errc::invalid_argument, "task has no \"data\" object");
        return out;
    }
    const json* image = member(*data, image_key.c_str());
    if (!image || !image->is_string()) {
        out.unusable =
            make_error(errc::invalid_argument, "task.data has no string \"" + image_key + "\" for the image");
        return out;
    }
    out.image = image->get<std::string>();
    read_prior_labels(*data, parsing.prior_keys, parsing.knowledge, out);
    return out;
}

std::vector<DrawnRegion> drawn_regions(const json& body) {
    std::vector<DrawnRegion> out;
    const json* params = member(body, "params");
    const json* context = params ? member(*params, "context") : nullptr;
    const json* result = context ? member(*context, "result") : nullptr;
    if (!result || !result->is_array()) return out;
    for (const auto& r : *result) {
        const json* value = member(r, "value");
        const json* id = member(r, "id");
        if (!value || !value->is_object() || !id || !id->is_string()) continue;
        const json* type = member(r, "type");
        if (!type || !type->is_string()) continue;
        const auto& name = type->get_ref<const std::string&>();
        if (name != "rectanglelabels" && name != "rectangle") continue;
        auto percent = [&](const char* key) {
            const json* v = member(*value, key);
            return v && v->is_number() ? v->get<double>() / 100.0 : -1.0;
        };
        RegionFraction region{percent("x"), percent("y"), percent("width"), percent("height")};
        if (region.x < 0 || region.y < 0 || region.w <= 0 || region.h <= 0) continue;
        out.push_back({id->get<std::string>(), region});
    }
    return out;
}

}  // namespace

Result<json> parse_json_body(const std::string& body, bool empty_is_object) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
        if (empty_is_object) return json::object();
        return make_error(errc::bad_json, "the request body is empty; a JSON object is expected");
    }
    if (!json_depth_within(body))
        return make_error(errc::bad_json,
                          "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return make_error(errc::bad_json, "the request body is not valid JSON");
    if (!parsed.is_object()) return make_error(errc::bad_json, "the request body must be a JSON object");
    return parsed;
}

std::string project_id(const json& body) {
    const json* p = member(body, "project");
    if (!p || p->is_null()) return "None";
    std::string text = p->is_string()           ? p->get<std::string>()
                       : p->is_number_integer() ? std::to_string(p->get<long long>())
                                                : "";
    if (const json* id = member(*p, "id")) text = id->is_number_integer() ? std::to_string(id->get<long long>()) : "";
    text = text.substr(0, text.find('.'));
    return text.empty() ? "None" : text;  // ".5" has no project id either
}

PriorLabelKeys parse_prior_label_keys(const std::string& list) {
    std::vector<std::string> keys;
    std::stringstream in(list);
    for (std::string key; std::getline(in, key, ',');) keys.push_back(key);
    keys.resize(std::max<std::size_t>(keys.size(), 4));
    return PriorLabelKeys{keys[0], keys[1], keys[2], keys[3]};
}

Result<PredictRequest> parse_predict_request(const std::string& body, const PredictParsing& parsing) {
    auto parsed = parse_json_body(body, false);
    if (!parsed) return parsed.error();
    const json& object = *parsed;
    std::vector<const json*> tasks;
    if (const json* given = member(object, "tasks")) {
        if (given->is_object()) {
            tasks.push_back(given);  // the upstream tests send one dict
        } else if (given->is_array()) {
            for (const auto& task : *given) tasks.push_back(&task);
        } else {
            return make_error(errc::invalid_argument, "\"tasks\" must be a list or an object");
        }
    }
    PredictRequest request;
    request.project = project_id(object);
    if (const json* xml = member(object, "label_config"); xml && xml->is_string())
        request.label_config = xml->get<std::string>();
    request.config_in_body = !request.label_config.empty();
    if (request.label_config.empty() && parsing.stored_config)
        request.label_config = parsing.stored_config(request.project);
    auto config = parsing.configs.get(request.label_config);
    if (!config) return config.error();
    request.config = *config;
    request.drawn = drawn_regions(object);
    request.tasks.reserve(tasks.size());
    for (const json* task : tasks) request.tasks.push_back(parse_task(*task, request.config->image_value_key, parsing));
    return request;
}

Result<PredictRequest> PredictBodyCache::parse(const std::string& body, const PredictParsing& parsing) {
    {
        std::lock_guard lock(mutex_);
        if (auto it = by_body_.find(body); it != by_body_.end()) {
            order_.splice(order_.begin(), order_, it->second);
            return it->second->request;
        }
    }
    auto parsed = parse_predict_request(body, parsing);
    if (!parsed || !parsed->config_in_body || body.size() > kMaxBodyBytes) return parsed;
    std::lock_guard lock(mutex_);
    if (by_body_.count(body)) return parsed;  // another thread kept it meanwhile
    order_.push_front(Entry{body, *parsed});
    by_body_.emplace(order_.front().body, order_.begin());
    bytes_ += body.size();
    while (order_.size() > kMaxEntries || bytes_ > kMaxBytes) {
        by_body_.erase(order_.back().body);
        bytes_ -= order_.back().body.size();
        order_.pop_back();
    }
    return parsed;
}

std::size_t PredictBodyCache::size() const {
    std::lock_guard lock(mutex_);
    return order_.size();
}

}  // namespace seke::label_studio
