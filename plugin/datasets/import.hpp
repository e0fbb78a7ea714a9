#pragma once
// `seke import`: the six source datasets of the SEKE paper (CK+, RAF-DB, AffectNet, DISFA, BP4D,
// Aff-Wild2) read where they sit, in their layouts as distributed, into one manifest line per
// labeled image or frame for `seke label`. Every label is mapped to the knowledge's names; what a
// dataset marks as invalid or unlabeled is left unknown or skipped, with the reason counted. A
// label file that does not parse is an error naming the file and the line: nothing is guessed.
// docs/datasets.md has the layouts, the mapping tables and the frame numbering.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "verify/errors.hpp"
#include "verify/knowledge.hpp"

namespace seke::datasets {

namespace fs = std::filesystem;

// How much of a dataset one import reads at most.
struct ImportLimits {
    std::uintmax_t max_file_bytes = 4ull << 30;  // one label file (AffectNet's training.csv is ~0.5 GB)
    std::size_t max_line_bytes = 64u << 10;      // one line of a label file
    std::int64_t max_lines = 5'000'000;          // lines of one label file
    std::size_t max_dir_entries = 2'000'000;     // entries of one listed folder
    std::int64_t max_items = 20'000'000;         // manifest lines of one import
    std::int64_t max_video_frames = 2'000'000;   // frames decoded from one video
};

struct ImportOptions {
    std::string dataset;  // ckplus | rafdb | affectnet | disfa | bp4d | affwild2
    fs::path root;        // the dataset's folder as distributed
    fs::path out;         // the manifest to write
    std::string split;    // only this split ("" every split)
    int every = 1;        // video datasets: every N-th labeled frame of each video
    fs::path frames_out;  // frames decoded from video (DISFA); "" beside the manifest
    std::string images;   // RAF-DB: aligned (default) | original
    std::string trace;    // DISFA's intensity 1: absent (default, the >= 2 rule) | unknown
    ImportLimits limits;
};

// The labels a dataset gives one item, in the knowledge's names.
struct KnownLabels {
    std::optional<std::string> expression;
    std::optional<double> valence, arousal;  // both or neither
    std::vector<std::string> action_units;   // present, a subset of au_coded
    std::vector<std::string> au_coded;       // coded by the dataset, present or absent; empty: no AU
    // Counted in the summary when the item is written: why a level was left unknown, and which
    // coded AUs were not kept.
    std::vector<std::string> unknown_reasons;
    std::vector<std::string> dropped_aus;
};

// One manifest line.
struct ManifestEntry {
    std::string source;     // the dataset key
    std::string source_id;  // the dataset's own file or frame id
    std::string subject;    // "" when the dataset names no person
    std::string split;
    fs::path image;  // where the image is (absolute)
    KnownLabels known;
    std::optional<PixelRegion> box;  // the dataset's face box, pixels of `image`
};

struct AuCounts {
    std::int64_t present = 0, absent = 0, uncoded = 0;
};

// What an import did, counted.
struct ImportSummary {
    std::string dataset;
    std::string manifest;
    std::int64_t items = 0;
    std::map<std::string, std::int64_t> splits;
    std::map<std::string, std::int64_t> expressions;
    std::vector<std::pair<std::string, AuCounts>> action_units;  // the knowledge's AUs, in its order
    std::int64_t with_va = 0;
    std::map<std::string, std::int64_t> skipped;         // items not written, per reason
    std::map<std::string, std::int64_t> unknown_levels;  // levels of written items left unknown, per reason
    std::map<std::string, std::int64_t> au_dropped;      // items whose coded AU is not kept, per AU and reason
    std::int64_t other_splits = 0;                       // items of a split --split did not ask for
    std::int64_t thinned = 0;                            // frames --every left out
    std::int64_t frames_decoded = 0;                     // written under the frames folder by this run
    std::int64_t frames_reused = 0;                      // found there from an earlier run
    std::string frames_dir;                              // "" when no frame was decoded or reused
};

// The manifest written line by line to "<out>.partial" and renamed into place on commit, so a
// manifest is whole or absent.
class ManifestWriter {
  public:
    static Result<ManifestWriter> open(const fs::path& out);
    // Image paths under the manifest's folder are written relative to it, others absolute.
    Result<bool> write(const ManifestEntry& entry);
    Result<bool> commit();

    // The JSON object of one line (exposed for tests).
    [[nodiscard]] nlohmann::ordered_json line(const ManifestEntry& entry) const;

  private:
    ManifestWriter(fs::path out, fs::path folder);
    fs::path out_;
    fs::path folder_;  // absolute, normalised
    std::ofstream file_;
};

// Where an importer hands its items and says what it left out. It keeps the summary and applies
// --split and --every.
class ImportSink {
  public:
    ImportSink(const Knowledge& knowledge, const ImportOptions& options, ManifestWriter& writer,
               ImportSummary& summary);

    [[nodiscard]] const ImportOptions& options() const { return options_; }
    [[nodiscard]] const ImportLimits& limits() const { return options_.limits; }
    // Whether --split asks for `split`; remembers that the dataset has it.
    bool wants(const std::string& split);
    [[nodiscard]] const std::set<std::string>& splits_seen() const { return splits_seen_; }
    // Whether the frame at `position` (0-based, in a video's label rows) is taken by --every;
    // counts the others.
    bool sampled(std::int64_t position);

    // Sets the item's expression from a dataset class already mapped to a target name ("sad");
    // a class the knowledge does not have is left unknown, with the reason.
    void set_expression(KnownLabels& known, const std::string& target_name) const;
    // Records that the dataset coded AU `number` on this item; an AU outside the knowledge is
    // dropped (`why` names the reason).
    void code_au(KnownLabels& known, int number, bool present,
                 const std::string& why = "outside the knowledge's action units") const;
    // The dataset codes every AU of the knowledge on this item (CK+'s peak frames).
    void code_all_aus(KnownLabels& known) const;
    // An AU the dataset coded on this item whose coding the import does not keep.
    static void drop_au(KnownLabels& known, int number, const std::string& why);
    static void unknown_level(KnownLabels& known, const std::string& reason);

    // Writes the item (when its split is asked for). An item with no label at all is skipped.
    Result<bool> add(ManifestEntry entry);
    void skip(const std::string& reason, std::int64_t count = 1);
    void other_split(std::int64_t count = 1) { summary_.other_splits += count; }
    ImportSummary& summary() { return summary_; }

  private:
    const Knowledge& knowledge_;
    const ImportOptions& options_;
    ManifestWriter& writer_;
    ImportSummary& summary_;
    std::set<std::string> splits_seen_;
};

// Reads a label file line by line, bounded in bytes, line length and lines; errors name the
// file and the line.
class LineReader {
  public:
    static Result<LineReader> open(const fs::path& path, const ImportLimits& limits);
    // The next line without its end (\n or \r\n); nullopt at the end of the file. An error past a limit.
    Result<std::optional<std::string>> next();
    [[nodiscard]] std::int64_t line_number() const { return line_; }
    [[nodiscard]] const fs::path& path() const { return path_; }
    // "<file>:<line>: <what>" as an invalid_argument error.
    [[nodiscard]] Error error(const std::string& what) const;
    // Hands each line in turn to `visit` (line_number() is its line) until the end of the file;
    // the first error — a line past a limit, or one `visit` returns — ends the reading and is
    // returned. With BlankLines::skip, lines of only spaces and tabs are not handed over.
    enum class BlankLines { keep, skip };
    using LineVisitor = std::function<std::optional<Error>(std::string& line)>;
    Result<bool> for_each(const LineVisitor& visit, BlankLines blank = BlankLines::skip);

  private:
    LineReader(fs::path path, const ImportLimits& limits);
    fs::path path_;
    const ImportLimits* limits_;
    std::ifstream in_;
    std::int64_t line_ = 0;
};

// Small parsing and file helpers the importers share.
std::vector<std::string_view> split_fields(std::string_view line, char separator);
std::vector<std::string_view> split_whitespace(std::string_view line);
// The whole field (blanks around it allowed) as a number; nullopt otherwise.
std::optional<double> parse_number(std::string_view field);
std::optional<long long> parse_integer(std::string_view field);
// A number that must be whole (CK+'s "   3.0000000e+00"); nullopt otherwise.
std::optional<long long> parse_whole_number(std::string_view field);
// The entries of `dir`, sorted by name, bounded; directories or regular files only.
enum class EntryKind { directories, files };
Result<std::vector<fs::path>> list_entries(const fs::path& dir, EntryKind kind, const ImportLimits& limits);
// The child of `dir` whose name equals one of `names` ignoring ASCII case, first match wins.
std::optional<fs::path> find_child(const fs::path& dir, const std::vector<std::string>& names, EntryKind kind,
                                   const ImportLimits& limits);
// A regular file is at `path` (errors read as no).
bool file_exists(const fs::path& path);
// The files of a frame folder by the integer value of their stem ("0005.jpg" is frame 5); names
// that are not numbers are ignored.
Result<std::map<long long, fs::path>> frames_by_number(const fs::path& dir, const ImportLimits& limits);

// The importers, one per dataset (one file each).
Result<bool> import_ckplus(ImportSink& sink);
Result<bool> import_rafdb(ImportSink& sink);
Result<bool> import_affectnet(ImportSink& sink);
Result<bool> import_disfa(ImportSink& sink);
Result<bool> import_bp4d(ImportSink& sink);
Result<bool> import_affwild2(ImportSink& sink);

// The value of a 0-d NumPy array file (AffectNet's 8-label annotations): little-endian float,
// integer or unicode string dtypes, NPY versions 1-3. A string must hold a number.
Result<double> read_npy_scalar(const fs::path& path);

// The dataset keys, in the order the help lists them.
const std::vector<std::string>& dataset_names();

// Runs the importer `options.dataset` and writes the manifest. Errors: invalid_argument (a
// bad option or a malformed label file, named with its line), not_found (ROOT is not the
// dataset's folder), io_error.
Result<ImportSummary> run_import(const ImportOptions& options, const Knowledge& knowledge);

nlohmann::ordered_json summary_json(const ImportSummary& summary);
// The same as aligned text, for a terminal.
std::string summary_table(const ImportSummary& summary);

}  // namespace seke::datasets
