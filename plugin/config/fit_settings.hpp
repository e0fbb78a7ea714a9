#pragma once
// `seke fit`'s settings: how reviews become calibrators and few-shot exemplars. Kept apart from
// the rest of Config so the learning code can take them without the whole option table.
#include <cstddef>
#include <optional>
#include <string_view>

namespace seke {

enum class CalibrationMethod { isotonic, platt };

inline std::string_view calibration_method_name(CalibrationMethod method) noexcept {
    return method == CalibrationMethod::platt ? "platt" : "isotonic";
}

inline std::optional<CalibrationMethod> parse_calibration_method(std::string_view text) noexcept {
    if (text == "isotonic") return CalibrationMethod::isotonic;
    if (text == "platt") return CalibrationMethod::platt;
    return std::nullopt;
}

struct FitSettings {
    CalibrationMethod method = CalibrationMethod::isotonic;
    std::size_t min_reviews = 30;                             // per level: fewer examples leave that level uncalibrated
    std::size_t max_exemplars = 6;                            // few-shot examples kept (each a thumbnail-sized JPEG)
    std::size_t max_exemplar_bytes = std::size_t{32} * 1024;  // an exemplar whose thumbnail is larger is skipped
};

}  // namespace seke
