#pragma once
// A Label Studio labeling config (the project's XML), reduced to what seke can fill: the Image,
// an optional face rectangle control, and the emotion controls. Pure: no I/O, no sockets.
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "verify/errors.hpp"
#include "verify/knowledge.hpp"

namespace seke::label_studio {

// Control names looked for first; common variants ("emotion", "au", "aus", ...) and recognition
// by values come after.
struct LabelStudioNames {
    std::string face = "face";
    std::string expression = "expression";
    std::string valence = "valence";
    std::string arousal = "arousal";
    std::string action_units = "action_units";
    std::string description = "description";
};

// One <Choice>/<Label>: the value LS stores (alias when present) and its predicted_values.
struct LabelValue {
    std::string value;
    std::vector<std::string> predicted_values;  // comma list, trimmed, empties dropped
};

struct ControlTag {
    std::string name;                // from_name
    std::string tag;                 // as written: "Choices", "Number", "TextArea", ...
    std::string to_name;             // the Image this control labels
    bool per_region = false;         // perRegion="true"
    bool multiple = false;           // Choices choice="multiple"
    std::optional<double> min, max;  // Number
    std::vector<LabelValue> values;

    // The `type` of a result: the tag name lower-cased.
    [[nodiscard]] std::string type() const;
    // Config value for a label: exact, case-insensitive, then predicted_values; nullopt if none.
    [[nodiscard]] std::optional<std::string> match_value(std::string_view label) const;
};

struct FaceControl {
    ControlTag control;                // RectangleLabels (or Rectangle, which has no labels)
    std::optional<std::string> label;  // the Label value to emit, e.g. "Face"
};

struct LabelingConfig {
    std::string image_name;       // <Image name=...>; empty when no Image was found
    std::string image_value_key;  // "image" for value="$image"; empty for a static value
    std::optional<FaceControl> face;
    std::optional<ControlTag> expression;              // Choices, single
    std::optional<ControlTag> valence;                 // Number
    std::optional<ControlTag> arousal;                 // Number
    std::optional<ControlTag> action_units;            // Choices, multiple
    std::optional<ControlTag> description;             // one TextArea for every level
    std::optional<ControlTag> expression_description;  // separate TextAreas, when names say so
    std::optional<ControlTag> va_description;
    std::optional<ControlTag> au_description;

    // canonical seke label → config value (model → LS), and config value → canonical (LS → seke)
    std::map<std::string, std::string> expression_to_config;
    std::map<std::string, std::string> expression_from_config;
    std::map<std::string, std::string> au_to_config;
    std::map<std::string, std::string> au_from_config;

    // An Image and at least one emotion control or a face rectangle: seke has something to say.
    [[nodiscard]] bool applicable() const noexcept;
    [[nodiscard]] bool has_emotion_control() const noexcept;

    // Exact config value for a seke label (canonical or not); nullopt: not in the config, not sent.
    [[nodiscard]] std::optional<std::string> config_expression(std::string_view label) const;
    [[nodiscard]] std::optional<std::string> config_action_unit(std::string_view label) const;
    // Canonical seke label for a value found in an annotation; nullopt when unknown.
    [[nodiscard]] std::optional<std::string> seke_expression(std::string_view value) const;
    [[nodiscard]] std::optional<std::string> seke_action_unit(std::string_view value) const;

    // Every emotion control present, in a fixed order (expression, valence, arousal, AUs, texts).
    [[nodiscard]] std::vector<const ControlTag*> emotion_controls() const;
};

// Errors only for XML that does not parse (errc::invalid_argument, the parser's message). An empty
// text, `<View></View>` or an unrelated config parse to a config that is not applicable().
Result<LabelingConfig> parse_label_config(const std::string& xml, const Knowledge& knowledge,
                                          const LabelStudioNames& names = {});

// Parsed configs by config text (LS sends the same text with every /predict). Thread-safe.
class LabelConfigCache {
  public:
    explicit LabelConfigCache(const Knowledge& knowledge, LabelStudioNames names = {}, std::size_t capacity = 64);

    Result<std::shared_ptr<const LabelingConfig>> get(const std::string& xml);
    [[nodiscard]] std::size_t size() const;

  private:
    struct Entry {
        std::string xml;  // compared on a hit, so a hash collision cannot return a wrong config
        std::shared_ptr<const LabelingConfig> config;
    };
    const Knowledge& knowledge_;
    LabelStudioNames names_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_multimap<std::size_t, Entry> entries_;
};

}  // namespace seke::label_studio
