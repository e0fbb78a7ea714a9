#pragma once
// label_studio.controls.<level>: the control of a project's labeling config that a level goes to,
// when the operator says so (it wins over any guess). Kept apart from the rest of Config so the
// Label Studio front end takes it without the whole option table.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "verify/errors.hpp"

namespace seke {

// The options as written: "NAME", "NAME:LOW..HIGH" (valence and arousal: the control's values for
// -1 and +1, e.g. "sam_v:1..9", reversed "aro:9..1") or "none" (never fill that level); "" = guess.
struct LabelStudioControls {
    std::string face, expression, valence, arousal, action_units, description, expression_description, va_description,
        au_description;
};

struct ControlOverride {
    std::string control;                             // the control's name; "" when off
    std::optional<std::pair<double, double>> range;  // LOW..HIGH
    bool off = false;
};

// One level's option, its flag and variable, and where its text lives: the one list the option
// table, its check and the Label Studio front end (whose Role enum has this order) all read.
struct ControlLevel {
    std::string_view level;  // "va_description"
    std::string_view key;    // "label_studio.controls.va_description"
    std::string_view flag;   // "--control-va-description"
    std::string_view env;    // "SEKE_CONTROL_VA_DESCRIPTION"
    std::string_view what;   // what the control holds, for the option's help
    std::string LabelStudioControls::*text;
    bool takes_range;  // valence and arousal: NAME:LOW..HIGH
};
inline constexpr std::size_t kControlLevelCount = 9;
const std::array<ControlLevel, kControlLevelCount>& control_levels();

// One option's text; "" is nullopt (no override). `allow_range`: valence and arousal. Errors:
// config_error naming `option`.
Result<std::optional<ControlOverride>> parse_control_override(const std::string& option, std::string_view text,
                                                              bool allow_range);
// Every level's option, in control_levels() order. Errors: the first option that does not parse.
Result<std::array<std::optional<ControlOverride>, kControlLevelCount>> parse_control_overrides(
    const LabelStudioControls& options);

}  // namespace seke
