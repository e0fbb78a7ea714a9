// BP4D-Spontaneous as distributed: AUCoding/AU_OCC/F001_T1.csv per subject and task (a header
// row whose first column "0" holds the frame number and whose other columns are AU numbers;
// cells 0 absent, 1 present, 9 not coded) and the frames as JPEGs under
// Sequences(2D+3D)/F001/T1/<frame>.jpg, matched to the CSV's frame number by integer value
// ("0005.jpg" is frame 5).
#include <array>
#include <set>

#include "plugin/datasets/import.hpp"
#include "verify/text.hpp"

namespace seke::datasets {
namespace {

// The 12 AUs BP4D codes (ME-GraphAU's standard set); other columns are not taken as coded.
const std::set<int> kStandardAus = {1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24};
constexpr int kNotCoded = 9;

// The three subject-exclusive folds of ME-GraphAU.
const std::vector<std::vector<std::string>> kFolds = {
    {"F001", "M007", "F018", "F008", "F002", "M004", "F010", "F009", "M012", "M001", "F016", "M014", "F023", "M008"},
    {"M011", "F003", "M010", "M002", "F005", "F022", "M018", "M017", "F013", "M016", "F020", "F011", "M013", "M005"},
    {"F007", "F015", "F006", "F019", "M006", "M009", "F012", "M003", "F004", "F021", "F017", "M015", "F014"},
};

std::string fold_of(const std::string& subject) {
    for (std::size_t k = 0; k < kFolds.size(); ++k)
        for (const auto& s : kFolds[k])
            if (iequals(s, subject)) return "part" + std::to_string(k + 1);
    return "unassigned";
}

struct Row {
    long long frame = 0;
    std::vector<int> cells;  // one per AU column
};

Result<bool> import_csv(ImportSink& sink, const fs::path& csv, const fs::path& sequences) {
    const ImportLimits& limits = sink.limits();
    const std::string stem = csv.stem().string();
    const std::size_t underscore = stem.find('_');
    if (underscore == std::string::npos || underscore == 0 || underscore + 1 == stem.size())
        return make_error(errc::invalid_argument,
                          csv.string() + ": the file name is not <subject>_<task>.csv (e.g. F001_T1.csv)");
    const std::string subject = stem.substr(0, underscore);
    const std::string task = stem.substr(underscore + 1);
    const std::string split = fold_of(subject);

    auto reader = LineReader::open(csv, limits);
    if (!reader) return reader.error();
    std::vector<int> columns;  // AU number per column after the first
    std::vector<Row> rows;
    auto read = reader->for_each([&](const std::string& line) -> std::optional<Error> {
        auto fields = split_fields(line, ',');
        if (columns.empty() && rows.empty()) {
            if (fields.size() < 2 || trim(fields[0]) != "0")
                return reader->error("the header row must start with the frame column \"0\" followed by AU numbers");
            for (std::size_t i = 1; i < fields.size(); ++i) {
                auto au = parse_integer(fields[i]);
                if (!au || *au < 1 || *au > 100)
                    return reader->error("header \"" + std::string(fields[i]) + "\" is not an AU number");
                columns.push_back(static_cast<int>(*au));
            }
            return std::nullopt;
        }
        if (fields.size() != columns.size() + 1)
            return reader->error("expected " + std::to_string(columns.size() + 1) + " fields, found " +
                                 std::to_string(fields.size()));
        Row row;
        auto frame = parse_integer(fields[0]);
        if (!frame || *frame < 0) return reader->error("frame \"" + std::string(fields[0]) + "\" is not a number");
        row.frame = *frame;
        for (std::size_t i = 1; i < fields.size(); ++i) {
            auto cell = parse_integer(fields[i]);
            if (!cell || (*cell != 0 && *cell != 1 && *cell != kNotCoded))
                return reader->error("cell \"" + std::string(fields[i]) + "\" is not 0, 1 or 9");
            row.cells.push_back(static_cast<int>(*cell));
        }
        rows.push_back(std::move(row));
        return std::nullopt;
    });
    if (!read) return read.error();
    if (columns.empty()) return make_error(errc::invalid_argument, csv.string() + ":1: no header row");
    if (!sink.wants(split)) {
        sink.other_split(static_cast<std::int64_t>(rows.size()));
        return true;
    }
    std::optional<fs::path> subject_dir = find_child(sequences, {subject}, EntryKind::directories, limits);
    std::optional<fs::path> task_dir;
    if (subject_dir) task_dir = find_child(*subject_dir, {task}, EntryKind::directories, limits);
    std::map<long long, fs::path> images;
    if (task_dir) {
        auto found = frames_by_number(*task_dir, limits);
        if (!found) return found.error();
        images = std::move(*found);
    }
    std::int64_t position = 0;
    for (const Row& row : rows) {
        if (!sink.sampled(position++)) continue;
        ManifestEntry entry;
        entry.subject = subject;
        entry.split = split;
        for (std::size_t c = 0; c < columns.size(); ++c) {
            const int au = columns[c];
            const int cell = row.cells[c];
            if (cell == kNotCoded) {
                if (kStandardAus.count(au))
                    ImportSink::unknown_level(entry.known, "AU" + std::to_string(au) + ": 9 (not coded)");
                continue;
            }
            if (kStandardAus.count(au)) sink.code_au(entry.known, au, cell == 1);
            else ImportSink::drop_au(entry.known, au, "not among BP4D's 12 coded AUs");
        }
        auto image = images.find(row.frame);
        if (image == images.end()) {
            sink.skip("image missing");
            continue;
        }
        entry.image = image->second;
        entry.source_id = subject + "_" + task + "_" + image->second.stem().string();
        if (auto added = sink.add(std::move(entry)); !added) return added;
    }
    return true;
}

}  // namespace

Result<bool> import_bp4d(ImportSink& sink) {
    const fs::path& root = sink.options().root;
    const ImportLimits& limits = sink.limits();
    std::error_code ec;
    const fs::path occurrence = root / "AUCoding" / "AU_OCC";
    if (!fs::is_directory(occurrence, ec))
        return make_error(errc::not_found,
                          root.string() + " is not BP4D as distributed: give the folder holding AUCoding/AU_OCC/");
    auto sequences = find_child(root, {"Sequences(2D+3D)", "2D+3D"}, EntryKind::directories, limits);
    if (!sequences)
        return make_error(errc::not_found, root.string() + " has no Sequences(2D+3D)/ (or 2D+3D/) folder of frames");
    auto files = list_entries(occurrence, EntryKind::files, limits);
    if (!files) return files.error();
    for (const auto& csv : *files) {
        if (to_lower(csv.extension().string()) != ".csv") continue;
        if (auto ok = import_csv(sink, csv, *sequences); !ok) return ok;
    }
    return true;
}

}  // namespace seke::datasets
