#include "plugin/label_studio/predictions.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <map>
#include <random>
#include <set>
#include <string_view>

namespace seke::label_studio {

namespace {

using json = nlohmann::json;

// Confidence for LS: high = settled. A NaN/Inf uncertainty counts as fully uncertain.
double confidence(double uncertainty) {
    if (!std::isfinite(uncertainty)) return 0.0;
    return std::clamp(1.0 - uncertainty, 0.0, 1.0);
}

void note(std::vector<std::string>* notes, std::string text) {
    if (notes) notes->push_back(std::move(text));
}

json geometry(const std::optional<Box>& box, ImageSize size) {
    double x = 0, y = 0, w = 100, h = 100;
    if (box && size.width > 0 && size.height > 0) {
        const double width = size.width, height = size.height;
        const double x0 = std::clamp(static_cast<double>(box->x), 0.0, width);
        const double y0 = std::clamp(static_cast<double>(box->y), 0.0, height);
        const double x1 = std::clamp(static_cast<double>(box->x) + box->w, x0, width);
        const double y1 = std::clamp(static_cast<double>(box->y) + box->h, y0, height);
        x = 100.0 * x0 / width;
        y = 100.0 * y0 / height;
        w = std::min(100.0 - x, 100.0 * (x1 - x0) / width);
        h = std::min(100.0 - y, 100.0 * (y1 - y0) / height);
    }
    return json{{"x", x}, {"y", y}, {"width", w}, {"height", h}, {"rotation", 0}};
}

// Where one face's results go: its region (id + geometry) or the whole image.
struct Target {
    std::optional<std::string> id;
    std::optional<json> geometry;
    ImageSize size;
};

json region(const ControlTag& control, const Target& target, const char* key, json content) {
    json item = {{"from_name", control.name}, {"to_name", control.to_name}, {"type", control.type()}};
    json value = target.geometry ? *target.geometry : json::object();
    value[key] = std::move(content);
    if (target.id) item["id"] = *target.id;
    if (target.geometry && target.size.width > 0 && target.size.height > 0) {
        item["original_width"] = target.size.width;
        item["original_height"] = target.size.height;
        item["image_rotation"] = 0;
    }
    item["value"] = std::move(value);
    return item;
}

constexpr std::string_view kExpressionMark = "Expression: ";
constexpr std::string_view kVaMark = "Valence/arousal: ";
constexpr std::string_view kAuMark = "Action units: ";

// Emits the results of `face` for the emotion controls whose per_region equals `per_region`
// (or all of them when `all`).
void emit_levels(const LabelingConfig& config, const FacePrediction& face, const Target& target, bool per_region,
                 bool all, json& result, std::vector<std::string>* notes) {
    auto wanted = [&](const std::optional<ControlTag>& c) { return c && (all || c->per_region == per_region); };
    const auto& labels = face.labels;

    // An expression on a face's box is written with the box (build_unchecked).
    const bool expression_on_box = config.face && config.face->labels_expression;
    if (wanted(config.expression) && labels.expression && !expression_on_box) {
        if (auto value = config.config_expression(*labels.expression)) {
            const ControlTag& control = *config.expression;
            json item = control.type() == "taxonomy"
                            ? region(control, target, "taxonomy", json::array({control.path_of(*value)}))
                            : region(control, target, "choices", json::array({*value}));
            item["score"] = confidence(face.uncertainty.expression);
            result.push_back(std::move(item));
        } else {
            note(notes, "expression \"" + *labels.expression + "\" is not a value of control \"" +
                            config.expression->name + "\"; not sent");
        }
    }
    // Valence and arousal on the control's own scale: a number, whole stars or the nearest choice.
    auto scaled = [&](const std::optional<ControlTag>& control, const std::optional<double>& v) {
        if (!wanted(control) || !v || !std::isfinite(*v)) return;
        const ValueScale& scale = control->scale;
        const std::string type = control->type();
        json item;
        if (type == "choices") {
            auto choice = scale.choice_for(*v);
            if (!choice) return;
            item = region(*control, target, "choices", json::array({*choice}));
        } else if (type == "rating") {
            const double stars = std::floor(control->max_rating.value_or(5));
            item = region(*control, target, "rating",
                          static_cast<int>(std::clamp(std::round(scale.to_control(*v)), 1.0, stars)));
        } else {
            double value = scale.to_control(*v);
            if (control->min) value = std::max(value, *control->min);
            if (control->max) value = std::min(value, *control->max);
            item = region(*control, target, "number", value);
        }
        item["score"] = confidence(face.uncertainty.va);
        result.push_back(std::move(item));
    };
    scaled(config.valence, labels.valence);
    scaled(config.arousal, labels.arousal);

    if (wanted(config.action_units) && labels.action_units) {
        const ControlTag& control = *config.action_units;
        json codes = json::array();
        std::set<std::string> seen;
        for (const auto& code : *labels.action_units) {
            auto value = config.config_action_unit(code);
            if (!value) {
                note(notes,
                     "action unit \"" + code + "\" is not a value of control \"" + control.name + "\"; not sent");
                continue;
            }
            if (seen.insert(*value).second)
                codes.push_back(control.type() == "taxonomy" ? json(control.path_of(*value)) : json(*value));
        }
        // An empty list would add an empty region for the annotator to clear: leave it out.
        if (!codes.empty()) {
            json item =
                region(control, target, control.type() == "taxonomy" ? "taxonomy" : "choices", std::move(codes));
            item["score"] = confidence(face.uncertainty.au);
            result.push_back(std::move(item));
        }
    }

    auto text = [&](const std::optional<ControlTag>& control, const std::string& content) {
        if (!wanted(control) || content.empty()) return;
        json item = region(*control, target, "text", json::array({content}));
        item["score"] = confidence(face.uncertainty.overall);
        result.push_back(std::move(item));
    };
    const auto& d = face.descriptions;
    text(config.expression_description, d.expression);
    text(config.va_description, d.va);
    text(config.au_description, d.au);
    // The single TextArea carries the levels that have no TextArea of their own.
    Descriptions rest;
    if (!config.expression_description) rest.expression = d.expression;
    if (!config.va_description) rest.va = d.va;
    if (!config.au_description) rest.au = d.au;
    text(config.description, combine_descriptions(rest));
}

std::size_t most_confident(const std::vector<FacePrediction>& faces) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < faces.size(); ++i)
        if (confidence(faces[i].uncertainty.overall) > confidence(faces[best].uncertainty.overall)) best = i;
    return best;
}

nlohmann::json build_unchecked(const LabelingConfig& config, ImageSize size, const std::vector<FacePrediction>& faces,
                               const std::string& model_version, std::vector<std::string>* notes) {
    json result = json::array();
    double score_sum = 0;
    std::size_t scored = 0;
    if (!config.applicable() || faces.empty()) {
        if (!config.applicable()) note(notes, "label config has nothing seke can fill");
        return json{{"model_version", model_version}, {"score", 0.0}, {"result", std::move(result)}};
    }
    const std::size_t primary = most_confident(faces);

    if (config.face) {
        const ControlTag& rect = config.face->control;
        std::set<std::string> ids;
        for (const auto& face : faces) {
            Target target;
            target.size = size;
            if (face.region_id && !face.region_id->empty() && !ids.count(*face.region_id)) {
                target.id = *face.region_id;
            } else {
                do target.id = new_region_id();
                while (ids.count(*target.id));
            }
            ids.insert(*target.id);
            target.geometry = geometry(face.box, size);
            const double score = confidence(face.uncertainty.overall);
            score_sum += score;
            ++scored;

            json item;
            if (rect.type() != "rectanglelabels") {
                item = region(rect, target, "rectangle", json());
            } else if (config.face->labels_expression) {
                // The box carries the face's expression; one the config lacks leaves the box unlabeled.
                json labels = json::array();
                if (face.labels.expression) {
                    if (auto value = config.config_expression(*face.labels.expression)) labels.push_back(*value);
                    else
                        note(notes, "expression \"" + *face.labels.expression + "\" is not a label of control \"" +
                                        rect.name + "\"; the box is sent without it");
                }
                item = region(rect, target, "rectanglelabels", std::move(labels));
            } else {
                item = region(rect, target, "rectanglelabels", json::array({config.face->label.value_or("")}));
            }
            if (rect.type() != "rectanglelabels") item["value"].erase("rectangle");
            item["score"] = score;
            result.push_back(std::move(item));
            emit_levels(config, face, target, true, false, result, notes);
        }
        // Whole-image controls beside the rectangles: one answer, from the most confident face.
        Target whole;
        whole.size = size;
        const std::size_t before = result.size();
        emit_levels(config, faces[primary], whole, false, false, result, notes);
        if (result.size() > before && faces.size() > 1)
            note(notes, "whole-image controls filled from face " + std::to_string(primary + 1) + " of " +
                            std::to_string(faces.size()));
    } else {
        Target whole;
        whole.size = size;
        emit_levels(config, faces[primary], whole, false, true, result, notes);
        score_sum = confidence(faces[primary].uncertainty.overall);
        scored = 1;
        if (faces.size() > 1)
            note(notes, "no face rectangle control: only face " + std::to_string(primary + 1) + " of " +
                            std::to_string(faces.size()) + " (the most confident) was sent");
    }
    const double score = scored ? std::clamp(score_sum / static_cast<double>(scored), 0.0, 1.0) : 0.0;
    return json{
        {"model_version", model_version}, {"score", std::isfinite(score) ? score : 0.0}, {"result", std::move(result)}};
}

// --- reading results back ---

std::optional<std::string> get_string(const json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<double> get_number(const json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number()) return std::nullopt;
    const double value = it->get<double>();
    return std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
}

std::vector<std::string> get_strings(const json& object, const char* key) {
    std::vector<std::string> out;
    auto it = object.find(key);
    if (it == object.end()) return out;
    if (it->is_string()) out.push_back(it->get<std::string>());
    if (it->is_array())
        for (const auto& v : *it)
            if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

// The values of a Taxonomy result: the leaf of each path.
std::vector<std::string> taxonomy_leaves(const json& value) {
    std::vector<std::string> out;
    auto it = value.find("taxonomy");
    if (it == value.end() || !it->is_array()) return out;
    for (const auto& path : *it)
        if (path.is_array() && !path.empty() && path.back().is_string()) out.push_back(path.back().get<std::string>());
    return out;
}

// The values a choices-like result holds, whatever the control's type.
std::vector<std::string> chosen(const ControlTag& control, const json& value) {
    const std::string type = control.type();
    if (type == "taxonomy") return taxonomy_leaves(value);
    return get_strings(value, type == "rectanglelabels" ? "rectanglelabels" : "choices");
}

// A valence or arousal result on the control's scale, as a level in [-1, 1]; nullopt and a
// problem when it is not one.
std::optional<double> level_read(const ControlTag& control, const json& value, const char* what,
                                 std::vector<std::string>& problems) {
    const std::string type = control.type();
    const ValueScale& scale = control.scale;
    if (type == "choices") {
        auto values = get_strings(value, "choices");
        if (values.empty()) return std::nullopt;
        if (auto level = scale.level_of_choice(values.front())) return level;
        problems.push_back(std::string(what) + " \"" + values.front() + "\" is not a choice of \"" + control.name +
                           "\"");
        return std::nullopt;
    }
    auto number = get_number(value, type == "rating" ? "rating" : "number");
    if (!number) {
        problems.push_back(std::string(what) + " is not a number");
        return std::nullopt;
    }
    if (type == "rating" && *number < 1) {
        problems.push_back(std::string(what) + " has no stars");
        return std::nullopt;
    }
    const double lowest = std::min(scale.low, scale.high), highest = std::max(scale.low, scale.high);
    constexpr double kSlack = 1e-9;
    if (*number < lowest - kSlack || *number > highest + kSlack) {
        problems.push_back(std::string(what) + " " + std::to_string(*number) + " is outside " + scale.describe());
        return std::nullopt;
    }
    return scale.to_level(*number);
}

std::optional<Box> box_from(const json& item, const json& value, std::vector<std::string>& problems) {
    auto x = get_number(value, "x"), y = get_number(value, "y");
    auto w = get_number(value, "width"), h = get_number(value, "height");
    if (!x || !y || !w || !h) return std::nullopt;
    auto width = get_number(item, "original_width"), height = get_number(item, "original_height");
    if (!width || !height || *width <= 0 || *height <= 0) {
        problems.emplace_back("region has no original_width/original_height: box unknown");
        return std::nullopt;
    }
    if (auto rotation = get_number(value, "rotation"); rotation && *rotation != 0)
        problems.push_back("region is rotated by " + std::to_string(*rotation) +
                           " degrees: box is the unrotated rectangle");
    auto px = [](double percent, double extent) {
        return static_cast<int>(std::lround(std::clamp(percent, 0.0, 100.0) / 100.0 * extent));
    };
    Box box;
    box.x = px(*x, *width);
    box.y = px(*y, *height);
    box.w = std::max(0, px(*x + *w, *width) - box.x);
    box.h = std::max(0, px(*y + *h, *height) - box.y);
    return box;
}

void merge(Descriptions& into, const Descriptions& from) {
    if (!from.expression.empty()) into.expression = from.expression;
    if (!from.va.empty()) into.va = from.va;
    if (!from.au.empty()) into.au = from.au;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        if (!out.empty()) out += '\n';
        out += line;
    }
    return out;
}

std::vector<AnnotatedFace> parse_unchecked(const json& result_list, const LabelingConfig& config) {
    std::vector<AnnotatedFace> faces;
    if (!result_list.is_array()) return faces;
    std::map<std::string, std::pair<Role, const ControlTag*>> roles;
    auto add = [&](const std::optional<ControlTag>& c, Role role) {
        if (c) roles.emplace(c->name, std::make_pair(role, &*c));
    };
    if (config.face) roles.emplace(config.face->control.name, std::make_pair(Role::face, &config.face->control));
    add(config.expression, Role::expression);
    add(config.valence, Role::valence);
    add(config.arousal, Role::arousal);
    add(config.action_units, Role::action_units);
    add(config.description, Role::description);
    add(config.expression_description, Role::expression_description);
    add(config.va_description, Role::va_description);
    add(config.au_description, Role::au_description);

    std::map<std::string, std::size_t> by_id;
    std::optional<std::size_t> whole;
    for (const auto& item : result_list) {
        if (!item.is_object()) continue;
        auto from_name = get_string(item, "from_name");
        if (!from_name) continue;
        auto role_it = roles.find(*from_name);
        if (role_it == roles.end()) continue;
        const auto [role, control] = role_it->second;
        auto value_it = item.find("value");
        if (value_it == item.end() || !value_it->is_object()) continue;
        const json& value = *value_it;
        auto id = get_string(item, "id");

        AnnotatedFace* face = nullptr;
        if (id && !id->empty() && (role == Role::face || control->per_region)) {
            auto [it, inserted] = by_id.emplace(*id, faces.size());
            if (inserted) {
                faces.emplace_back();
                faces.back().region_id = *id;
            }
            face = &faces[it->second];
        } else {
            if (!whole) {
                whole = faces.size();
                faces.emplace_back();
            }
            face = &faces[*whole];
        }

        // A box labeled by expression is the face and its expression at once.
        const bool expression_box = role == Role::face && config.face->labels_expression;
        if (role == Role::face || (control->per_region && !face->box)) {
            std::vector<std::string> problems;
            if (auto box = box_from(item, value, problems)) face->box = box;
            face->problems.insert(face->problems.end(), problems.begin(), problems.end());
        }
        if (role == Role::expression || expression_box) {
            for (const auto& v : chosen(*control, value)) {
                auto label = config.seke_expression(v);
                if (!label) {
                    face->problems.push_back("expression \"" + v + "\" does not map to a seke expression");
                } else if (!face->labels.expression) {
                    face->labels.expression = *label;
                } else if (*face->labels.expression != *label) {
                    face->problems.push_back("expression \"" + v + "\" ignored: the face already has one");
                }
            }
        }
        switch (role) {
            case Role::face:
            case Role::expression: break;  // read above, with the face's box when it is one
            case Role::valence:
            case Role::arousal: {
                const bool valence = role == Role::valence;
                if (auto level = level_read(*control, value, valence ? "valence" : "arousal", face->problems))
                    (valence ? face->labels.valence : face->labels.arousal) = *level;
                break;
            }
            case Role::action_units: {
                std::vector<std::string> codes = face->labels.action_units.value_or(std::vector<std::string>{});
                for (const auto& v : chosen(*control, value)) {
                    auto code = config.seke_action_unit(v);
                    if (!code) face->problems.push_back("action unit \"" + v + "\" does not map to a seke action unit");
                    else if (std::find(codes.begin(), codes.end(), *code) == codes.end()) codes.push_back(*code);
                }
                face->labels.action_units = std::move(codes);
                break;
            }
            case Role::description:
                merge(face->descriptions, split_descriptions(join_lines(get_strings(value, "text"))));
                break;
            case Role::expression_description:
                face->descriptions.expression = join_lines(get_strings(value, "text"));
                break;
            case Role::va_description: face->descriptions.va = join_lines(get_strings(value, "text")); break;
            case Role::au_description: face->descriptions.au = join_lines(get_strings(value, "text")); break;
        }
    }
    return faces;
}

}  // namespace

std::string combine_descriptions(const Descriptions& descriptions) {
    std::string out;
    auto add = [&](std::string_view mark, const std::string& text) {
        if (text.empty()) return;
        if (!out.empty()) out += '\n';
        out += mark;
        out += text;
    };
    add(kExpressionMark, descriptions.expression);
    add(kVaMark, descriptions.va);
    add(kAuMark, descriptions.au);
    return out;
}

Descriptions split_descriptions(const std::string& text) {
    Descriptions out;
    std::string* current = &out.expression;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + start, end - start);
        for (auto [mark, field] : std::array<std::pair<std::string_view, std::string*>, 3>{
                 {{kExpressionMark, &out.expression}, {kVaMark, &out.va}, {kAuMark, &out.au}}}) {
            if (line.substr(0, mark.size()) == mark) {
                current = field;
                line.remove_prefix(mark.size());
                break;
            }
        }
        if (!current->empty()) *current += '\n';
        *current += line;
        start = end + 1;
    }
    // Trailing/blank lines leave stray newlines; a level that was never written stays empty.
    for (std::string* field : {&out.expression, &out.va, &out.au}) {
        while (!field->empty() && (field->back() == '\n' || field->back() == ' ')) field->pop_back();
        while (!field->empty() && field->front() == '\n') field->erase(0, 1);
    }
    return out;
}

std::string new_region_id() {
    static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    thread_local std::mt19937_64 engine{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
    std::string id(10, 'A');
    for (char& c : id) c = kAlphabet[pick(engine)];
    return id;
}

nlohmann::json build_prediction(const LabelingConfig& config, ImageSize size, const std::vector<FacePrediction>& faces,
                                const std::string& model_version, std::vector<std::string>* notes) {
    try {
        return build_unchecked(config, size, faces, model_version, notes);
    } catch (const std::exception& e) {
        // Out of memory or a bug: an empty prediction keeps the task's reply well-formed.
        note(notes, std::string("prediction not built: ") + e.what());
        return json{{"model_version", model_version}, {"score", 0.0}, {"result", json::array()}};
    }
}

std::vector<AnnotatedFace> parse_annotation_result(const nlohmann::json& result_list, const LabelingConfig& config) {
    try {
        return parse_unchecked(result_list, config);
    } catch (const std::exception&) {
        return {};
    }
}

}  // namespace seke::label_studio
