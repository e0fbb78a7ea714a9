#pragma once
// The simulated world of the fake VLLM: ground-truth items and the emotion facts they follow
// (AffectNet's 8 expressions, the 17 AUs, EMFACS prototypes, circumplex VA regions — the same
// facts as config/knowledge.json, kept here so the fake never depends on seke's own loader).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace seke::fake {

struct ExpressionFacts {
    std::string_view name;                                      // "happy"
    std::string_view noun;                                      // "happiness", for descriptions
    std::string_view cue;                                       // what the face shows
    std::vector<std::string> prototype;                         // EMFACS prototype within the 17 AUs
    std::vector<std::string> variant_aus;                       // AUs a variant of the prototype may add
    double valence_min, valence_max, arousal_min, arousal_max;  // prior VA region
    std::vector<std::string_view> confusables;                  // plausible confusions, most likely first

    [[nodiscard]] double valence_centre() const noexcept { return (valence_min + valence_max) / 2; }
    [[nodiscard]] double arousal_centre() const noexcept { return (arousal_min + arousal_max) / 2; }
};

// In AffectNet order: neutral happy sad surprise fear disgust anger contempt.
std::span<const ExpressionFacts> expressions();
const ExpressionFacts* find_expression(std::string_view name);

// The 17 AU codes ("AU1" ... "AU26") and their lower-case FACS names.
std::span<const std::string> action_unit_codes();
std::string_view action_unit_name(std::string_view code);  // "" when unknown

struct TruthItem {
    std::string id;          // "s00001"
    std::string image;       // relative to the truth file's dir
    std::uint32_t code = 0;  // the visual code drawn in the image
    std::string expression;
    double valence = 0, arousal = 0;
    std::vector<std::string> action_units;
    double difficulty = 0;            // 0 easy .. 1 hopeless
    std::string confusable;           // the class a model most plausibly confuses it with
    std::vector<std::string> faults;  // per-item faults: always_500|always_malformed|always_hang
    std::string source = "synthetic";

    [[nodiscard]] bool has_fault(std::string_view fault) const;
};

nlohmann::json to_json(const TruthItem& item);
// Throws std::runtime_error on a missing/ill-typed field.
TruthItem truth_from_json(const nlohmann::json& j);

// The items of a truth.jsonl, looked up by code.
class TruthTable {
  public:
    TruthTable() = default;
    explicit TruthTable(std::vector<TruthItem> items);
    // Throws std::runtime_error with the line number on a bad line.
    static TruthTable load(const std::string& path);

    [[nodiscard]] const TruthItem* by_code(std::uint32_t code) const;
    [[nodiscard]] const TruthItem* by_id(const std::string& id) const;
    [[nodiscard]] const std::vector<TruthItem>& items() const noexcept { return items_; }

  private:
    std::vector<TruthItem> items_;
    std::unordered_map<std::uint32_t, std::size_t> by_code_;
    std::unordered_map<std::string, std::size_t> by_id_;
};

}  // namespace seke::fake
