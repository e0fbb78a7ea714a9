#pragma once
// `seke feab build`: a FEAB truth file drawn from the test splits of imported datasets —
// stratified by source and, within a source, by expression and AU occurrence; subject-exclusive
// from the training manifests; the same inputs and seed give the same file byte for byte.
// docs/feab.md has the rules.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "verify/labels.hpp"

namespace seke::feab {

// One labeled item a benchmark may draw (a manifest line as `seke import` writes it).
struct BuildCandidate {
    std::string id;
    std::string image;  // as the truth line gives it
    std::string source;
    std::string source_id;
    std::string subject;  // "" when the dataset names no person
    std::string split;
    LabelSet known;  // action_units with au_coded when the source coded only some AUs
};

// At most this many manifest lines per build (allocate's bound, with room to spare).
inline constexpr std::size_t kMaxBuildLines = 50'000'000;

struct BuildOptions {
    std::size_t size = 0;
    std::uint64_t seed = 0;
    std::set<std::string> test_splits = {"test", "validation"};
    // (source, subject) of every training line: none of them may appear in the benchmark.
    std::set<std::pair<std::string, std::string>> training_subjects;
};

// What a source gave and what was drawn from it.
struct SourceCounts {
    std::int64_t lines = 0;             // lines of this source read
    std::int64_t other_splits = 0;      // not in a test split
    std::int64_t training_subject = 0;  // their subject is in a training manifest
    std::int64_t duplicate_id = 0;      // an id that came before
    std::int64_t candidates = 0;        // left to draw from
    std::int64_t selected = 0;
    std::map<std::string, std::int64_t> expressions;  // of the selected, "(none)" without one
    std::int64_t au_present = 0;                      // selected with some AU present
    std::int64_t au_none = 0;                         // selected with AUs coded, none present
    std::int64_t au_not_coded = 0;                    // selected without an AU level
    std::int64_t va = 0;                              // selected with valence-arousal
};

struct BuildResult {
    std::vector<BuildCandidate> selected;  // sorted by id
    std::map<std::string, SourceCounts> sources;
};

// The allocation both stratification levels use: `total` spread over groups of the given sizes
// in proportion to them (largest remainder; ties to the larger, then the earlier group), each non-empty group
// given one first when `total` allows, never more than a group has. The sizes add up to < 2^32.
std::vector<std::size_t> allocate(const std::vector<std::size_t>& sizes, std::size_t total);

// The stratum of an item within its source: its expression and whether an AU is present.
std::string stratum_of(const LabelSet& known);

// Draws the benchmark. Candidates may come in any order: the draw depends only on their ids,
// labels and the seed.
BuildResult build_benchmark(std::vector<BuildCandidate> candidates, const BuildOptions& options);

// The truth line of a drawn item (FEAB's truth format, plus source_id, subject and split).
nlohmann::ordered_json truth_line(const BuildCandidate& item);

nlohmann::ordered_json build_summary_json(const BuildResult& result, std::size_t requested);
std::string build_summary_table(const BuildResult& result, std::size_t requested);

}  // namespace seke::feab
