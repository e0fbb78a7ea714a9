#include "tools/fake_vllm/truth.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <stdexcept>

namespace seke::fake {
namespace {

const std::vector<ExpressionFacts>& table() {
    // Regions and prototypes mirror config/knowledge.json; confusions follow the usual FER
    // confusion matrices (fear/surprise, disgust/anger, sad/neutral, contempt/neutral/happy).
    static const std::vector<ExpressionFacts> facts{
        {"neutral",
         "a neutral expression",
         "a relaxed face with no action units clearly active",
         {},
         {"AU25", "AU7"},
         -0.2,
         0.2,
         -0.3,
         0.2,
         {"sad", "contempt"}},
        {"happy",
         "happiness",
         "cheeks raised and lip corners pulled up",
         {"AU6", "AU12"},
         {"AU25", "AU26"},
         0.0,
         1.0,
         -0.2,
         0.7,
         {"surprise", "contempt"}},
        {"sad",
         "sadness",
         "inner brows raised and drawn together, lip corners down",
         {"AU1", "AU4", "AU15"},
         {"AU17"},
         -1.0,
         -0.05,
         -0.8,
         0.2,
         {"neutral"}},
        {"surprise",
         "surprise",
         "brows raised, eyes wide and jaw dropped",
         {"AU1", "AU2", "AU5", "AU26"},
         {"AU25"},
         -0.4,
         0.5,
         0.3,
         1.0,
         {"fear"}},
        {"fear",
         "fear",
         "brows raised and drawn together, eyes wide, lips stretched",
         {"AU1", "AU2", "AU4", "AU5", "AU20", "AU26"},
         {"AU7", "AU25"},
         -1.0,
         -0.1,
         0.3,
         1.0,
         {"surprise"}},
        {"disgust",
         "disgust",
         "nose wrinkled and upper lip raised",
         {"AU9", "AU15"},
         {"AU10", "AU17"},
         -1.0,
         -0.1,
         -0.3,
         0.6,
         {"anger"}},
        {"anger",
         "anger",
         "brows lowered, lids tightened and lips pressed together",
         {"AU4", "AU5", "AU7", "AU23"},
         {"AU24"},
         -1.0,
         -0.1,
         0.1,
         1.0,
         {"disgust"}},
        {"contempt",
         "contempt",
         "one lip corner raised and tightened",
         {"AU12", "AU14"},
         {},
         -0.7,
         0.05,
         -0.5,
         0.3,
         {"neutral", "happy"}},
    };
    return facts;
}

const std::array<std::pair<std::string_view, std::string_view>, 17> kAuNames{{
    {"AU1", "inner brow raiser"},
    {"AU2", "outer brow raiser"},
    {"AU4", "brow lowerer"},
    {"AU5", "upper lid raiser"},
    {"AU6", "cheek raiser"},
    {"AU7", "lid tightener"},
    {"AU9", "nose wrinkler"},
    {"AU10", "upper lip raiser"},
    {"AU12", "lip corner puller"},
    {"AU14", "dimpler"},
    {"AU15", "lip corner depressor"},
    {"AU17", "chin raiser"},
    {"AU20", "lip stretcher"},
    {"AU23", "lip tightener"},
    {"AU24", "lip pressor"},
    {"AU25", "lips part"},
    {"AU26", "jaw drop"},
}};

template <class T>
T field(const nlohmann::json& j, const char* key) {
    if (!j.contains(key)) throw std::runtime_error(std::string("missing field '") + key + "'");
    try {
        return j.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
        throw std::runtime_error(std::string("field '") + key + "' has the wrong type");
    }
}

}  // namespace

std::span<const ExpressionFacts> expressions() {
    return table();
}

const ExpressionFacts* find_expression(std::string_view name) {
    for (const auto& e : table())
        if (e.name == name) return &e;
    return nullptr;
}

std::span<const std::string> action_unit_codes() {
    static const std::vector<std::string> codes = [] {
        std::vector<std::string> out;
        out.reserve(std::size(kAuNames));
        for (const auto& [code, name] : kAuNames) out.emplace_back(code);
        return out;
    }();
    return codes;
}

std::string_view action_unit_name(std::string_view code) {
    for (const auto& [c, name] : kAuNames)
        if (c == code) return name;
    return {};
}

bool TruthItem::has_fault(std::string_view fault) const {
    return std::find(faults.begin(), faults.end(), fault) != faults.end();
}

nlohmann::json to_json(const TruthItem& item) {
    nlohmann::json j{{"id", item.id},
                     {"image", item.image},
                     {"code", item.code},
                     {"expression", item.expression},
                     {"valence", item.valence},
                     {"arousal", item.arousal},
                     {"action_units", item.action_units},
                     {"difficulty", item.difficulty},
                     {"confusable", item.confusable},
                     {"source", item.source}};
    if (!item.faults.empty()) j["faults"] = item.faults;
    return j;
}

TruthItem truth_from_json(const nlohmann::json& j) {
    if (!j.is_object()) throw std::runtime_error("not a JSON object");
    TruthItem item;
    item.id = field<std::string>(j, "id");
    item.image = j.value("image", std::string{});
    item.code = field<std::uint32_t>(j, "code");
    item.expression = field<std::string>(j, "expression");
    item.valence = field<double>(j, "valence");
    item.arousal = field<double>(j, "arousal");
    item.action_units = field<std::vector<std::string>>(j, "action_units");
    item.difficulty = std::clamp(j.value("difficulty", 0.0), 0.0, 1.0);
    item.confusable = j.value("confusable", std::string{});
    if (j.contains("faults")) item.faults = field<std::vector<std::string>>(j, "faults");
    item.source = j.value("source", std::string{"synthetic"});
    if (!find_expression(item.expression)) throw std::runtime_error("unknown expression '" + item.expression + "'");
    if (item.confusable.empty() || !find_expression(item.confusable))
        item.confusable = std::string(find_expression(item.expression)->confusables.front());
    return item;
}

TruthTable::TruthTable(std::vector<TruthItem> items) : items_(std::move(items)) {
    for (std::size_t i = 0; i < items_.size(); ++i) {
        by_code_.emplace(items_[i].code, i);
        by_id_.emplace(items_[i].id, i);
    }
}

TruthTable TruthTable::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read truth file " + path);
    std::vector<TruthItem> items;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            items.push_back(truth_from_json(nlohmann::json::parse(line)));
        } catch (const std::exception& e) {
            throw std::runtime_error(path + ":" + std::to_string(number) + ": " + e.what());
        }
    }
    return TruthTable(std::move(items));
}

const TruthItem* TruthTable::by_code(std::uint32_t code) const {
    auto it = by_code_.find(code);
    return it == by_code_.end() ? nullptr : &items_[it->second];
}

const TruthItem* TruthTable::by_id(const std::string& id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &items_[it->second];
}

}  // namespace seke::fake
