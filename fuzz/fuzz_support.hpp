#pragma once
// What every fuzz target shares: the knowledge file and files of the source tree, loaded once,
// and a check that stops the run when an invariant of a parse does not hold.
#include <cstddef>
#include <cstdint>
#include <string>

#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke::fuzz {

// config/knowledge.json of the source tree (the shipped classes and AU set).
const Knowledge& knowledge();
// A file of the source tree by its relative path; aborts when it cannot be read.
std::string source_file(const std::string& relative_path);

// Labels as every parser must give them: names the knowledge canonicalises to themselves, valence
// and arousal in [-1, 1].
bool canonical_labels(const LabelSet& labels);

inline std::string as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Prints `what` and aborts, which libFuzzer reports as a crash with the input that caused it.
[[noreturn]] void invariant_failed(const char* file, int line, const char* what);

}  // namespace seke::fuzz

#define SEKE_FUZZ_CHECK(condition) \
    ((condition) ? static_cast<void>(0) : ::seke::fuzz::invariant_failed(__FILE__, __LINE__, #condition))
