#pragma once
// Small ASCII text helpers shared by every layer (labels, headers, URLs are ASCII where it matters).
#include <string>
#include <string_view>

namespace seke {

std::string trim(std::string_view text);       // without leading and trailing white space
std::string to_lower(std::string_view text);   // ASCII letters only
bool iequals(std::string_view a, std::string_view b) noexcept;
bool starts_with_icase(std::string_view text, std::string_view prefix) noexcept;

}  // namespace seke
