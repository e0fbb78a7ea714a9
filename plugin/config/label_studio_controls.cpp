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
