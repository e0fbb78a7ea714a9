#pragma once
// What `seke label` is given: a folder of images or a manifest.jsonl, parsed at the edge into
// typed jobs. Bad lines are reported with their line number and never stop the good ones.
#include <optional>
#include <string>
#include <vector>

#include "connectors/image.hpp"
#include "verify/errors.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke {

// Where a manifest line's item comes from when a dataset importer wrote it (`seke import`):
// the dataset, its own id of the file or frame, the person shown and the dataset's split.
// Empty when the line does not say.
struct ItemOrigin {
    std::string source;     // "bp4d"
    std::string source_id;  // "F001_T1_2440"
    std::string subject;    // "F001"
    std::string split;      // "train"
};

struct LabelJob {
    std::string id;      // manifest id, or the image path relative to the folder
    std::string image;   // as given (stored in records)
    std::string source;  // what to read: resolved path, URL or data URI
    LabelSet known;      // prior labels: facts for the engine; known.au_coded when a source coded some AUs
    LevelProvenance known_provenance;
    std::string known_json;  // the prior labels as given, for the store
    ItemOrigin origin;
    // The dataset's own face box, in pixels of the image: the image's one face, so no detector runs.
    std::optional<PixelRegion> box;
};

struct InputProblem {
    int line = 0;    // 1-based manifest line (0 for a folder entry)
    std::string id;  // when it could be read
    std::string reason;
};

struct LabelInput {
    std::vector<LabelJob> jobs;
    std::vector<InputProblem> problems;
};

// A folder (its image files, recursively, sorted) or a JSONL manifest. Errors only when the
// input as a whole cannot be read; bad entries go to `problems`.
Result<LabelInput> read_label_input(const std::string& path, const Knowledge& knowledge);

// One manifest line (exposed for tests). `base_dir` resolves relative image paths.
Result<LabelJob> parse_manifest_line(const std::string& line, const std::string& base_dir, const Knowledge& knowledge);

}  // namespace seke
