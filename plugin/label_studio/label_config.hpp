#pragma once
// A Label Studio labeling config (the project's XML), reduced to what seke can fill: the Image,
// an optional face rectangle control, and the emotion controls. Pure: no I/O, no sockets.
#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/config/label_studio_controls.hpp"
#include "verify/errors.hpp"
#include "verify/knowledge.hpp"

namespace seke::label_studio {

// The levels a control can fill. `face` is the rectangle each face's results hang on.
enum class Role {
    face,
    expression,
    valence,
    arousal,
    action_units,
    description,
    expression_description,
    va_description,
    au_description
};
inline constexpr std::size_t kRoleCount = 9;
// "expression", "valence", ... as in the option names (label_studio.controls.<role>).
std::string_view role_name(Role role) noexcept;

// The operator's mapping, by level (label_studio.controls.*).
struct ControlOverrides {
    std::array<std::optional<ControlOverride>, kRoleCount> by_role;
    [[nodiscard]] const std::optional<ControlOverride>& of(Role role) const {
        return by_role[static_cast<std::size_t>(role)];
    }
};
// The options parsed. Errors: config_error naming the option (load_config checks them first).
Result<ControlOverrides> control_overrides(const LabelStudioControls& options);

// One <Choice>/<Label>: the value LS stores (alias when present) and its predicted_values.
struct LabelValue {
    std::string value;
    std::vector<std::string> predicted_values;  // comma list, trimmed, empties dropped
    std::vector<std::string> path;              // Taxonomy: the values of its ancestors, root first
};

// How a level in [-1, 1] is written on a control's own scale and read back: linear between
// `low` (the control's value for -1) and `high` (for +1). A Number with min and max is that
// range; a Rating 1..maxRating in whole stars; a Choices scale its choices, each at a position.
struct ValueScale {
    double low = -1, high = 1;
    bool whole = false;                                   // Rating: whole stars
    std::vector<std::pair<std::string, double>> choices;  // Choices: value and its position

    [[nodiscard]] double to_control(double level) const;
    [[nodiscard]] double to_level(double control) const;  // clamped to [-1, 1]
    // The choice nearest to `level`; nullopt without choices.
    [[nodiscard]] std::optional<std::string> choice_for(double level) const;
    [[nodiscard]] std::optional<double> level_of_choice(std::string_view value) const;
    [[nodiscard]] bool identity() const noexcept;
    // "1..9" as a person would read it.
    [[nodiscard]] std::string describe() const;
};

struct ControlTag {
    std::string name;                  // from_name
    std::string tag;                   // as written: "Choices", "Number", "TextArea", ...
    std::string to_name;               // the Image this control labels
    bool per_region = false;           // perRegion="true"
    bool multiple = false;             // Choices choice="multiple", Taxonomy (always several)
    std::optional<double> min, max;    // Number
    std::optional<double> max_rating;  // Rating maxRating (LS's default is 5)
    std::vector<LabelValue> values;
    ValueScale scale;  // valence and arousal: how [-1, 1] is written on this control

    // The `type` of a result: the tag name lower-cased.
    [[nodiscard]] std::string type() const;
    // Config value for a label: exact, case-insensitive, then predicted_values; nullopt if none.
    [[nodiscard]] std::optional<std::string> match_value(std::string_view label) const;
    // The Taxonomy path of a value (its ancestors, then itself).
    [[nodiscard]] std::vector<std::string> path_of(const std::string& value) const;
};

// What seke makes of one control of the config: the level it fills, or why it fills none and
// which option would map it. Every control tag (name + toName) of the config has one.
struct ControlReport {
    std::string name;
    std::string tag;
    std::optional<Role> role;                 // filled: the level
    std::string how;                          // filled: "choices", "rating 1..5 for [-1, 1]", ...
    std::vector<std::string> unknown_values;  // filled: values seke never predicts
    std::string reason;                       // unfilled: why
    std::string option;                       // unfilled: the option that would map it, if any
};

struct FaceControl {
    ControlTag control;                // RectangleLabels (or Rectangle, which has no labels)
    std::optional<std::string> label;  // the Label value to emit, e.g. "Face"
    bool labels_expression = false;    // its labels are expressions: each face's box carries its own
};

struct LabelingConfig {
    std::string image_name;       // <Image name=...>; empty when no Image was found
    std::string image_value_key;  // "image" for value="$image"; empty for a static value
    std::optional<FaceControl> face;
    std::optional<ControlTag> expression;              // Choices (single), Taxonomy, or the face's RectangleLabels
    std::optional<ControlTag> valence;                 // Number, Rating or a Choices scale
    std::optional<ControlTag> arousal;                 // Number, Rating or a Choices scale
    std::optional<ControlTag> action_units;            // Choices (multiple) or Taxonomy
    std::optional<ControlTag> description;             // one TextArea for every level
    std::optional<ControlTag> expression_description;  // separate TextAreas, when names say so
    std::optional<ControlTag> va_description;
    std::optional<ControlTag> au_description;

    // canonical seke label → config value (model → LS), and config value → canonical (LS → seke)
    std::map<std::string, std::string> expression_to_config;
    std::map<std::string, std::string> expression_from_config;
    std::map<std::string, std::string> au_to_config;
    std::map<std::string, std::string> au_from_config;

    // Every control of the config in document order, filled or not, and what seke makes of it.
    std::vector<ControlReport> controls;
    // Overrides that name no control of this config, or one that cannot hold their level.
    std::vector<std::string> problems;
    // Why seke can fill nothing in a config that has controls ("" otherwise): no Image, or no
    // control seke knows how to fill.
    std::string unusable;

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
                                          const ControlOverrides& overrides = {});

// The report as JSON: {"usable", "filled": [...], "unfilled": [...], "problems": [...], "reason"}
// (reason only when not usable). What /setup answers, what is logged and what `seke label-config
// --check` prints.
nlohmann::json control_report_json(const LabelingConfig& config);
// Why a config is unusable, with each control and why it is not filled: the error /setup answers
// and `seke label-config --check` prints.
std::string unusable_message(const LabelingConfig& config);

// Parsed configs by config text (LS sends the same text with every /predict). Thread-safe.
class LabelConfigCache {
  public:
    explicit LabelConfigCache(const Knowledge& knowledge, ControlOverrides overrides = {}, std::size_t capacity = 64);

    Result<std::shared_ptr<const LabelingConfig>> get(const std::string& xml);
    [[nodiscard]] std::size_t size() const;

  private:
    struct Entry {
        std::string xml;  // compared on a hit, so a hash collision cannot return a wrong config
        std::shared_ptr<const LabelingConfig> config;
    };
    const Knowledge& knowledge_;
    ControlOverrides overrides_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_multimap<std::size_t, Entry> entries_;
};

}  // namespace seke::label_studio
