// CK+ as distributed: cohn-kanade-images/S005/001/S005_001_00000011.png, with the peak frame's
// labels in Emotion/S005/001/S005_001_00000011_emotion.txt (327 sequences) and
// FACS/S005/001/S005_001_00000011_facs.txt (all 593), numbers in MATLAB's "%e" format.
#include <set>

#include "plugin/datasets/import.hpp"

namespace seke::datasets {
namespace {

// The emotion file's codes (the distribution's ReadMe), as target names.
const char* const kEmotionNames[] = {"neutral", "anger", "contempt", "disgust", "fear", "happy", "sad", "surprise"};

struct PeakFrame {
    std::string subject, sequence;
    fs::path emotion, facs;
};

// The label files of one kind, by frame stem ("S005_001_00000011").
Result<bool> collect(const fs::path& dir, const std::string& suffix, bool emotion, const ImportLimits& limits,
                     std::map<std::string, PeakFrame>& frames) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return true;
    auto subjects = list_entries(dir, EntryKind::directories, limits);
    if (!subjects) return subjects.error();
    for (const auto& subject : *subjects) {
        auto sequences = list_entries(subject, EntryKind::directories, limits);
        if (!sequences) return sequences.error();
        for (const auto& sequence : *sequences) {
            auto files = list_entries(sequence, EntryKind::files, limits);
            if (!files) return files.error();
            for (const auto& file : *files) {
                std::string name = file.filename().string();
                if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix))
                    continue;
                PeakFrame& frame = frames[name.substr(0, name.size() - suffix.size())];
                frame.subject = subject.filename().string();
                frame.sequence = sequence.filename().string();
                (emotion ? frame.emotion : frame.facs) = file;
            }
        }
    }
    return true;
}

// One value, e.g. "   3.0000000e+00": a code of the ReadMe's table.
Result<std::string> read_emotion(const fs::path& path, const ImportLimits& limits) {
    auto reader = LineReader::open(path, limits);
    if (!reader) return reader.error();
    std::optional<long long> code;
    auto read = reader->for_each([&](const std::string& line) -> std::optional<Error> {
        auto fields = split_whitespace(line);
        if (fields.empty()) return std::nullopt;
        if (code || fields.size() != 1) return reader->error("an emotion file holds one number");
        code = parse_whole_number(fields[0]);
        if (!code || *code < 0 || *code > 7)
            return reader->error("emotion code \"" + std::string(fields[0]) + "\" is not a whole number 0-7");
        return std::nullopt;
    });
    if (!read) return read.error();
    if (!code) return make_error(errc::invalid_argument, path.string() + ":1: empty emotion file");
    return std::string(kEmotionNames[*code]);
}

// Lines "AU intensity", e.g. "   1.2000000e+01   3.0000000e+00". Every listed AU is present.
Result<std::vector<int>> read_facs(const fs::path& path, const ImportLimits& limits) {
    auto reader = LineReader::open(path, limits);
    if (!reader) return reader.error();
    std::vector<int> units;
    auto read = reader->for_each([&](const std::string& line) -> std::optional<Error> {
        auto fields = split_whitespace(line);
        if (fields.empty()) return std::nullopt;
        if (fields.size() != 2) return reader->error("a FACS line is an AU number and its intensity");
        auto au = parse_whole_number(fields[0]);
        if (!au || *au < 0 || *au > 100)
            return reader->error("AU number \"" + std::string(fields[0]) + "\" is not a whole number");
        auto intensity = parse_number(fields[1]);
        if (!intensity || *intensity < 0 || *intensity > 5)
            return reader->error("AU intensity \"" + std::string(fields[1]) + "\" is not a number 0-5");
        units.push_back(static_cast<int>(*au));
        return std::nullopt;
    });
    if (!read) return read.error();
    return units;
}

}  // namespace

Result<bool> import_ckplus(ImportSink& sink) {
    const fs::path& root = sink.options().root;
    const ImportLimits& limits = sink.limits();
    std::error_code ec;
    const fs::path images = root / "cohn-kanade-images";
    if (!fs::is_directory(images, ec) ||
        (!fs::is_directory(root / "Emotion", ec) && !fs::is_directory(root / "FACS", ec)))
        return make_error(errc::not_found, root.string() +
                                               " is not CK+ as distributed: give the folder holding "
                                               "cohn-kanade-images/, Emotion/ and FACS/");
    std::map<std::string, PeakFrame> frames;
    if (auto ok = collect(root / "Emotion", "_emotion.txt", true, limits, frames); !ok) return ok;
    if (auto ok = collect(root / "FACS", "_facs.txt", false, limits, frames); !ok) return ok;

    // No official split: the labelled subjects in name order, every tenth one held out for test
    // (SEKE split CK+ by subject, 9/10 : 1/10).
    std::set<std::string> subjects;
    for (const auto& [stem, frame] : frames) subjects.insert(frame.subject);
    std::map<std::string, std::string> split_of;
    std::size_t index = 0;
    for (const auto& subject : subjects) split_of[subject] = index++ % 10 == 9 ? "test" : "train";

    for (const auto& [stem, frame] : frames) {
        ManifestEntry entry;
        entry.source_id = stem;
        entry.subject = frame.subject;
        entry.split = split_of[frame.subject];
        entry.image = images / frame.subject / frame.sequence / (stem + ".png");
        if (!sink.wants(entry.split)) {
            sink.other_split();
            continue;
        }
        if (!frame.emotion.empty()) {
            auto name = read_emotion(frame.emotion, limits);
            if (!name) return name.error();
            sink.set_expression(entry.known, *name);
        }
        if (!frame.facs.empty()) {
            auto units = read_facs(frame.facs, limits);
            if (!units) return units.error();
            // The peak frame is fully FACS-coded: an AU not listed is absent.
            sink.code_all_aus(entry.known);
            for (int au : *units) sink.code_au(entry.known, au, true);
        }
        if (!file_exists(entry.image)) {
            sink.skip("peak frame image missing");
            continue;
        }
        if (auto added = sink.add(std::move(entry)); !added) return added;
    }
    return true;
}

}  // namespace seke::datasets
