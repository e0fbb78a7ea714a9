// Aff-Wild2 with the ABAW annotations as distributed: one file per video and task,
// {VA_Estimation_Challenge, EXPR_Classification_Challenge, AU_Detection_Challenge}/
// {Train_Set, Validation_Set}/<video>.txt (ABAW 3 and later) or
// annotations/{VA_Set, EXPR_Set, AU_Set}/{Training_Set, Validation_Set}/<video>.txt (ABAW
// 2020/21). Line 1 is a header; data row n (from 1) is the frame cropped_aligned/<video>/%05d.jpg
// n. Frames with no detected face have no JPEG. A frame's known levels are the union of the
// three tasks' rows for its video.
#include <array>

#include "plugin/datasets/import.hpp"
#include "verify/text.hpp"

namespace seke::datasets {
namespace {

enum Task { kVa = 0, kExpr = 1, kAu = 2 };
constexpr double kVaIgnore = -5;
constexpr long long kIgnore = -1;  // EXPR and AU

// Folder names per task: ABAW 3+ first, then ABAW 2020/21.
const std::array<std::vector<std::string>, 3> kTaskFolders = {{
    {"VA_Estimation_Challenge", "VA_Set"},
    {"EXPR_Classification_Challenge", "EXPR_Recognition_Challenge", "EXPR_Set"},
    {"AU_Detection_Challenge", "AU_Set"},
}};
const std::pair<const char*, const char*> kSplitFolders[] = {
    {"Train_Set", "train"}, {"Training_Set", "train"}, {"Validation_Set", "validation"}};

// The EXPR header's class names, as target names ("Other" is no class of the targets).
std::optional<std::string> expression_target(const std::string& header_name) {
    static const std::pair<const char*, const char*> names[] = {
        {"Neutral", "neutral"}, {"Anger", "anger"}, {"Disgust", "disgust"},   {"Fear", "fear"},
        {"Happiness", "happy"}, {"Sadness", "sad"}, {"Surprise", "surprise"}, {"Other", ""}};
    for (const auto& [header, target] : names)
        if (iequals(header_name, header)) return std::string(target);
    return std::nullopt;
}

struct VideoFiles {
    std::string split;
    bool split_conflict = false;
    std::array<fs::path, 3> files;
};

// One task file of a video, read whole: its header fields and its data rows.
struct TaskRows {
    std::vector<std::string> header;
    std::vector<std::string> rows;
    fs::path path;
};

Result<TaskRows> read_task(const fs::path& path, const ImportLimits& limits) {
    TaskRows out;
    out.path = path;
    if (path.empty()) return out;
    auto reader = LineReader::open(path, limits);
    if (!reader) return reader.error();
    // Blank rows are kept: data row n is frame n.
    auto read = reader->for_each(
        [&](std::string& line) -> std::optional<Error> {
            if (reader->line_number() == 1) {
                for (auto field : split_fields(line, ',')) out.header.push_back(trim(field));
                return std::nullopt;
            }
            out.rows.push_back(std::move(line));
            return std::nullopt;
        },
        LineReader::BlankLines::keep);
    if (!read) return read.error();
    return out;
}

// "<file>:<line>: what" for data row `row` (0-based) of a task file.
Error row_error(const TaskRows& task, std::size_t row, const std::string& what) {
    return make_error(errc::invalid_argument, task.path.string() + ":" + std::to_string(row + 2) + ": " + what);
}

Result<bool> check_headers(const std::array<TaskRows, 3>& tasks) {
    auto header_error = [](const TaskRows& task, const std::string& what) {
        return make_error(errc::invalid_argument, task.path.string() + ":1: " + what);
    };
    if (!tasks[kVa].path.empty() && (tasks[kVa].header.size() != 2 || !iequals(tasks[kVa].header[0], "valence") ||
                                     !iequals(tasks[kVa].header[1], "arousal")))
        return header_error(tasks[kVa], "the VA header must be valence,arousal");
    if (!tasks[kExpr].path.empty()) {
        if (tasks[kExpr].header.empty()) return header_error(tasks[kExpr], "no EXPR header");
        for (const auto& name : tasks[kExpr].header)
            if (!expression_target(name)) return header_error(tasks[kExpr], "\"" + name + "\" is not an EXPR class");
    }
    if (!tasks[kAu].path.empty()) {
        if (tasks[kAu].header.empty()) return header_error(tasks[kAu], "no AU header");
        for (const auto& name : tasks[kAu].header) {
            auto number =
                name.size() > 2 && starts_with_icase(name, "AU") ? parse_integer(name.substr(2)) : std::nullopt;
            if (!number || *number < 1 || *number > 100)
                return header_error(tasks[kAu], "\"" + name + "\" is not an AU column (AU1, AU2, ...)");
        }
    }
    return true;
}

// The labels of data row `row` of every task into `known`.
Result<bool> row_labels(ImportSink& sink, const std::array<TaskRows, 3>& tasks, std::size_t row, KnownLabels& known) {
    if (const TaskRows& va = tasks[kVa]; row < va.rows.size()) {
        auto fields = split_fields(va.rows[row], ',');
        auto valence = fields.size() == 2 ? parse_number(fields[0]) : std::nullopt;
        auto arousal = fields.size() == 2 ? parse_number(fields[1]) : std::nullopt;
        if (!valence || !arousal) return row_error(va, row, "a VA row is two numbers valence,arousal");
        if (*valence == kVaIgnore || *arousal == kVaIgnore) {
            ImportSink::unknown_level(known, "valence-arousal -5 (ignore)");
        } else if (*valence < -1 || *valence > 1 || *arousal < -1 || *arousal > 1) {
            ImportSink::unknown_level(known, "valence-arousal outside [-1, 1]");
        } else {
            known.valence = *valence;
            known.arousal = *arousal;
        }
    }
    if (const TaskRows& expr = tasks[kExpr]; row < expr.rows.size()) {
        auto code = parse_integer(expr.rows[row]);
        if (!code || *code < kIgnore || *code >= static_cast<long long>(expr.header.size()))
            return row_error(
                expr, row,
                "expression \"" + expr.rows[row] + "\" is not -1 or 0-" + std::to_string(expr.header.size() - 1));
        if (*code == kIgnore) {
            ImportSink::unknown_level(known, "expression -1 (ignore)");
        } else {
            std::string target = *expression_target(expr.header[static_cast<std::size_t>(*code)]);
            if (target.empty()) ImportSink::unknown_level(known, "expression 7 (Other)");
            else sink.set_expression(known, target);
        }
    }
    if (const TaskRows& au = tasks[kAu]; row < au.rows.size()) {
        auto fields = split_fields(au.rows[row], ',');
        if (fields.size() != au.header.size())
            return row_error(au, row, "expected " + std::to_string(au.header.size()) + " AU values");
        for (std::size_t c = 0; c < fields.size(); ++c) {
            auto value = parse_integer(fields[c]);
            if (!value || (*value != 0 && *value != 1 && *value != kIgnore))
                return row_error(au, row, "AU value \"" + std::string(fields[c]) + "\" is not 0, 1 or -1");
            const int number = static_cast<int>(*parse_integer(au.header[c].substr(2)));
            if (*value == kIgnore) ImportSink::unknown_level(known, "AU" + std::to_string(number) + ": -1 (ignore)");
            else sink.code_au(known, number, *value == 1);
        }
    }
    return true;
}

}  // namespace

Result<bool> import_affwild2(ImportSink& sink) {
    const fs::path& root = sink.options().root;
    const ImportLimits& limits = sink.limits();
    std::error_code ec;
    // Every task file of every video, by video name.
    std::map<std::string, VideoFiles> videos;
    bool any_task = false;
    for (const fs::path& base : {root, root / "annotations"}) {
        if (!fs::is_directory(base, ec)) continue;
        for (std::size_t task = 0; task < kTaskFolders.size(); ++task) {
            auto folder = find_child(base, kTaskFolders[task], EntryKind::directories, limits);
            if (!folder) continue;
            any_task = true;
            for (const auto& [split_folder, split] : kSplitFolders) {
                auto set = find_child(*folder, {split_folder}, EntryKind::directories, limits);
                if (!set) continue;
                auto files = list_entries(*set, EntryKind::files, limits);
                if (!files) return files.error();
                for (const auto& file : *files) {
                    if (to_lower(file.extension().string()) != ".txt") continue;
                    VideoFiles& video = videos[file.stem().string()];
                    if (!video.split.empty() && video.split != split) video.split_conflict = true;
                    video.split = split;
                    video.files[task] = file;
                }
            }
        }
    }
    if (!any_task)
        return make_error(errc::not_found, root.string() +
                                               " is not Aff-Wild2's ABAW annotations as distributed: give the folder "
                                               "holding VA_Estimation_Challenge/, EXPR_Classification_Challenge/ and "
                                               "AU_Detection_Challenge/ (or annotations/) and cropped_aligned/");
    const fs::path cropped = root / "cropped_aligned";
    for (const auto& [name, video] : videos) {
        std::array<TaskRows, 3> tasks;
        for (std::size_t t = 0; t < 3; ++t) {
            auto read = read_task(video.files[t], limits);
            if (!read) return read.error();
            tasks[t] = std::move(*read);
        }
        if (auto ok = check_headers(tasks); !ok) return ok;
        std::size_t rows = 0;
        for (const auto& task : tasks) rows = std::max(rows, task.rows.size());
        if (video.split_conflict) {
            sink.skip("video in different splits across task files", static_cast<std::int64_t>(rows));
            continue;
        }
        if (!sink.wants(video.split)) {
            sink.other_split(static_cast<std::int64_t>(rows));
            continue;
        }
        auto images = frames_by_number(cropped / name, limits);
        if (!images) return images.error();
        for (std::size_t row = 0; row < rows; ++row) {
            if (!sink.sampled(static_cast<std::int64_t>(row))) continue;
            ManifestEntry entry;
            const long long frame = static_cast<long long>(row) + 1;
            char number[24];
            std::snprintf(number, sizeof number, "%05lld", frame);
            entry.source_id = name + "/" + number;
            entry.subject = name;
            entry.split = video.split;
            if (auto ok = row_labels(sink, tasks, row, entry.known); !ok) return ok;
            if (!entry.known.expression && !entry.known.valence && entry.known.au_coded.empty()) {
                sink.skip("no usable label");
                continue;
            }
            auto image = images->find(frame);
            if (image == images->end()) {
                sink.skip("no frame image (no face detected in the frame)");
                continue;
            }
            entry.image = image->second;
            if (auto added = sink.add(std::move(entry)); !added) return added;
        }
    }
    return true;
}

}  // namespace seke::datasets
