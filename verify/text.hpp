#pragma once
// Small text helpers shared by every layer (labels, headers, URLs are ASCII where it matters;
// the UTF-8 rule is the one place that says what well-formed text from outside is).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace seke {

std::string trim(std::string_view text);      // without leading and trailing white space
std::string to_lower(std::string_view text);  // ASCII letters only
bool iequals(std::string_view a, std::string_view b) noexcept;
bool starts_with_icase(std::string_view text, std::string_view prefix) noexcept;

// 0-15 for a hex digit of either case, -1 for anything else.
int hex_digit_value(char c) noexcept;
// "%41b+c" -> "Ab c" (plus as space only when asked, i.e. in query strings). nullopt on a
// malformed escape ("%zz", a cut "%4") or an encoded NUL, which would cut a C string (a file
// path) short further down.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space);

// The length of the well-formed UTF-8 sequence `text` starts with (1 for ASCII, 2 to 4), or 0
// when it starts with no well-formed one: a stray continuation byte, a cut sequence, an
// overlong form, a surrogate, or a code point past U+10FFFF. 0 for empty text.
std::size_t utf8_sequence_length(std::string_view text) noexcept;
// True when the whole of `text` is well-formed UTF-8.
bool well_formed_utf8(std::string_view text) noexcept;

// JSON from outside is refused past this nesting depth before it is parsed: nlohmann's parser
// is iterative, but copying or dumping a value recurses once per level, so a body of a million
// '[' (2 MB) overflows a thread's stack. Real bodies nest fewer than 20 levels.
inline constexpr std::size_t kMaxJsonDepth = 128;
// True when no array or object in `text` opens more than `max_depth` levels deep; brackets
// inside strings do not count. Exact for valid JSON; any text is accepted as input.
bool json_depth_within(std::string_view text, std::size_t max_depth = kMaxJsonDepth) noexcept;

}  // namespace seke
