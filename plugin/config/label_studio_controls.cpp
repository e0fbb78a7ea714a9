#include "plugin/config/label_studio_controls.hpp"

#include <cmath>
#include <cstdlib>

#include "verify/text.hpp"

namespace seke {
namespace {

std::optional<double> number(const std::string& text) {
    const std::string t = trim(text);
    if (t.empty()) return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

}  // namespace

const std::array<ControlLevel, kControlLevelCount>& control_levels() {
    using C = LabelStudioControls;
    static const std::array<ControlLevel, kControlLevelCount> levels = {{
        {"face", "label_studio.controls.face", "--control-face", "SEKE_CONTROL_FACE",
         "the rectangle control faces are drawn with", &C::face, false},
        {"expression", "label_studio.controls.expression", "--control-expression", "SEKE_CONTROL_EXPRESSION",
         "the expression control (Choices, Taxonomy, or RectangleLabels whose labels are expressions)", &C::expression,
         false},
        {"valence", "label_studio.controls.valence", "--control-valence", "SEKE_CONTROL_VALENCE",
         "the valence control (Number, Rating or a Choices scale); NAME:LOW..HIGH gives its values for -1 and +1",
         &C::valence, true},
        {"arousal", "label_studio.controls.arousal", "--control-arousal", "SEKE_CONTROL_AROUSAL",
         "the arousal control (Number, Rating or a Choices scale); NAME:LOW..HIGH gives its values for -1 and +1",
         &C::arousal, true},
        {"action_units", "label_studio.controls.action_units", "--control-action-units", "SEKE_CONTROL_ACTION_UNITS",
         "the action-unit control (Choices with choice=\"multiple\", or Taxonomy)", &C::action_units, false},
        {"description", "label_studio.controls.description", "--control-description", "SEKE_CONTROL_DESCRIPTION",
         "the TextArea for the description of every level without one of its own", &C::description, false},
        {"expression_description", "label_studio.controls.expression_description", "--control-expression-description",
         "SEKE_CONTROL_EXPRESSION_DESCRIPTION", "the TextArea for the expression's description",
         &C::expression_description, false},
        {"va_description", "label_studio.controls.va_description", "--control-va-description",
         "SEKE_CONTROL_VA_DESCRIPTION", "the TextArea for the valence/arousal description", &C::va_description, false},
        {"au_description", "label_studio.controls.au_description", "--control-au-description",
         "SEKE_CONTROL_AU_DESCRIPTION", "the TextArea for the action units' description", &C::au_description, false},
    }};
    return levels;
}

Result<std::array<std::optional<ControlOverride>, kControlLevelCount>> parse_control_overrides(
    const LabelStudioControls& options) {
    std::array<std::optional<ControlOverride>, kControlLevelCount> out;
    for (std::size_t i = 0; i < kControlLevelCount; ++i) {
        const ControlLevel& level = control_levels()[i];
        auto parsed = parse_control_override(std::string(level.key), options.*level.text, level.takes_range);
        if (!parsed) return parsed.error();
        out[i] = std::move(*parsed);
    }
    return out;
}

Result<std::optional<ControlOverride>> parse_control_override(const std::string& option, std::string_view text,
                                                              bool allow_range) {
    const std::string spec = trim(text);
    if (spec.empty()) return std::optional<ControlOverride>();
    ControlOverride out;
    if (iequals(spec, "none")) {
        out.off = true;
        return std::optional<ControlOverride>(out);
    }
    // The range follows the last ':' and holds "..": a name may contain ':' itself.
    const std::size_t colon = spec.rfind(':');
    const std::size_t dots = colon == std::string::npos ? std::string::npos : spec.find("..", colon);
    out.control = trim(spec.substr(0, dots == std::string::npos ? spec.size() : colon));
    if (dots != std::string::npos) {
        const std::string range = spec.substr(colon + 1);
        if (!allow_range)
            return make_error(errc::config_error,
                              "option " + option + ": a range (\"" + range + "\") is for valence and arousal only");
        auto low = number(spec.substr(colon + 1, dots - colon - 1));
        auto high = number(spec.substr(dots + 2));
        if (!low || !high || *low == *high)
            return make_error(errc::config_error, "option " + option + ": \"" + range +
                                                      "\" is not LOW..HIGH, two different numbers (the control's "
                                                      "values for -1 and +1)");
        out.range = std::make_pair(*low, *high);
    }
    if (out.control.empty())
        return make_error(errc::config_error, "option " + option + ": \"" + spec + "\" names no control");
    return std::optional<ControlOverride>(out);
}

}  // namespace seke
