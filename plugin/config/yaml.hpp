#pragma once
// A YAML file read into the JSON value seke's JSON readers take, so a file may be written in
// either (`seke feid build CONFIG.yaml`). What is read:
// - mappings become objects (keys as text, in file order; a key given twice is an error),
//   sequences arrays;
// - a plain scalar is null (empty, ~, null), a boolean (true, false; also True/TRUE/False/FALSE),
//   an integer ([-+]?[0-9]+), a number ([-+]?digits with a fraction and/or an exponent), or else
//   text; a quoted or block scalar, or one tagged !!str, is always text;
// - any other tag, a key that is not a scalar, and a file holding no or several documents are
//   errors; nothing is guessed.
// Anchors and aliases are read as copies, bounded by the number of values, so a small file cannot
// grow into a huge value.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "verify/errors.hpp"

namespace seke {

struct YamlLimits {
    int max_depth = 64;                // nested mappings and sequences
    std::size_t max_values = 100'000;  // every scalar, mapping and sequence, aliases counted as copies
};

// `text` as JSON. Errors: invalid_argument "<name>:<line>:<column>: <what>" (1-based; the line
// alone where the column is unknown) for malformed YAML, a value deeper than max_depth, past
// max_values, or a construct JSON has no place for.
Result<nlohmann::ordered_json> parse_yaml(std::string_view text, const std::string& name,
                                          const YamlLimits& limits = {});

// Whether `path` names a YAML file by its extension (.yaml, .yml, any case).
bool is_yaml_path(std::string_view path);

}  // namespace seke
