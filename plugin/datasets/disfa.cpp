// DISFA as distributed: ActionUnit_Labels/SN001/SN001_au<N>.txt for 12 AUs, lines
// "frameIdx,intensity" (frameIdx from 1, intensity 0-5), and only video
// (Videos_LeftCamera/LeftVideoSN001_comp.avi): the labeled frames are decoded once into
// <frames>/SN001/<frameIdx>.png (ffmpeg's "%d.png" numbering: decoded frame k, counted from 0,
// is frameIdx k + 1). Frames already there, from an earlier run or extracted by ffmpeg that
// way, are used as they are.
#include <array>
#include <set>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "plugin/datasets/import.hpp"
#include "verify/text.hpp"

namespace seke::datasets {
namespace {

constexpr std::array<int, 12> kAus = {1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26};
constexpr int kPresentFrom = 2;  // intensity >= 2 is present (ME-GraphAU, wtomin)
constexpr int kTrace = 1;        // absent under that rule, or unknown with --disfa-trace unknown
constexpr int kUncoded = -1;

// The three subject-exclusive folds of ME-GraphAU.
const std::vector<std::vector<std::string>> kFolds = {
    {"SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"},
    {"SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"},
    {"SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"},
};

std::string fold_of(const std::string& subject) {
    for (std::size_t k = 0; k < kFolds.size(); ++k)
        for (const auto& s : kFolds[k])
            if (iequals(s, subject)) return "part" + std::to_string(k + 1);
    return "unassigned";
}

using Intensities = std::array<int, kAus.size()>;

// One AU's label file into `frames` (column `column`).
Result<bool> read_au_file(const fs::path& path, std::size_t column, const ImportLimits& limits,
                          std::map<long long, Intensities>& frames) {
    auto reader = LineReader::open(path, limits);
    if (!reader) return reader.error();
    return reader->for_each([&](const std::string& line) -> std::optional<Error> {
        auto fields = split_fields(line, ',');
        if (fields.size() != 2) return reader->error("a line is frameIdx,intensity");
        auto frame = parse_integer(fields[0]);
        if (!frame || *frame < 1 || *frame > limits.max_video_frames)
            return reader->error("frame index \"" + std::string(fields[0]) + "\" is not a number from 1");
        auto intensity = parse_integer(fields[1]);
        if (!intensity || *intensity < 0 || *intensity > 5)
            return reader->error("intensity \"" + std::string(fields[1]) + "\" is not 0-5");
        auto [it, inserted] = frames.try_emplace(*frame);
        if (inserted) it->second.fill(kUncoded);
        if (it->second[column] != kUncoded) return reader->error("frame " + std::to_string(*frame) + " appears twice");
        it->second[column] = static_cast<int>(*intensity);
        return std::nullopt;
    });
}

// The subject's left-camera video: Videos_LeftCamera/LeftVideoSN001_comp.avi, names matched
// without regard to case (copies differ).
std::optional<fs::path> find_video(const fs::path& root, const std::string& subject, const ImportLimits& limits) {
    auto folders = list_entries(root, EntryKind::directories, limits);
    if (!folders) return std::nullopt;
    for (const auto& folder : *folders) {
        std::string name = to_lower(folder.filename().string());
        if (name.rfind("video", 0) != 0 || name.find("left") == std::string::npos) continue;
        if (auto video = find_child(folder, {"LeftVideo" + subject + "_comp.avi"}, EntryKind::files, limits))
            return video;
    }
    return std::nullopt;
}

// Decodes the frames `wanted` (frameIdx) of `video` into `dir`. Returns the frameIdx written;
// a frame past the video's end is not among them.
Result<std::set<long long>> decode_frames(const fs::path& video, const std::set<long long>& wanted, const fs::path& dir,
                                          const ImportLimits& limits) {
    std::set<long long> written;
    if (wanted.empty()) return written;
    cv::VideoCapture capture(video.string());
    if (!capture.isOpened()) return make_error(errc::unsupported_media, "cannot open the video " + video.string());
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    const long long last = *wanted.rbegin();
    cv::Mat frame;
    for (long long index = 1; index <= last && index <= limits.max_video_frames; ++index) {
        if (!capture.read(frame) || frame.empty()) break;
        if (!wanted.count(index)) continue;
        // Written beside its name and renamed: a frame file is whole or absent.
        fs::path target = dir / (std::to_string(index) + ".png");
        fs::path partial = dir / (std::to_string(index) + ".partial.png");
        if (!cv::imwrite(partial.string(), frame, {cv::IMWRITE_PNG_COMPRESSION, 1}))
            return make_error(errc::io_error, "cannot write " + partial.string());
        fs::rename(partial, target, ec);
        if (ec) return make_error(errc::io_error, "cannot rename to " + target.string() + ": " + ec.message());
        written.insert(index);
    }
    return written;
}

}  // namespace

Result<bool> import_disfa(ImportSink& sink) {
    const fs::path& root = sink.options().root;
    const ImportLimits& limits = sink.limits();
    std::error_code ec;
    const fs::path labels = root / "ActionUnit_Labels";
    if (!fs::is_directory(labels, ec))
        return make_error(errc::not_found,
                          root.string() + " is not DISFA as distributed: give the folder holding ActionUnit_Labels/");
    const fs::path frames_root = sink.options().frames_out;
    const bool trace_unknown = sink.options().trace == "unknown";
    sink.summary().frames_dir = fs::absolute(frames_root).lexically_normal().string();
    auto subjects = list_entries(labels, EntryKind::directories, limits);
    if (!subjects) return subjects.error();
    for (const auto& subject_dir : *subjects) {
        const std::string subject = subject_dir.filename().string();
        std::map<long long, Intensities> frames;
        std::vector<bool> has_file(kAus.size(), false);
        for (std::size_t c = 0; c < kAus.size(); ++c) {
            fs::path file = subject_dir / (subject + "_au" + std::to_string(kAus[c]) + ".txt");
            if (!file_exists(file)) continue;
            has_file[c] = true;
            if (auto ok = read_au_file(file, c, limits, frames); !ok) return ok;
        }
        if (frames.empty()) continue;
        const std::string split = fold_of(subject);
        if (!sink.wants(split)) {
            sink.other_split(static_cast<std::int64_t>(frames.size()));
            continue;
        }
        // The frames --every takes, and which of them must still be decoded.
        std::vector<long long> taken;
        std::int64_t position = 0;
        for (const auto& [index, values] : frames)
            if (sink.sampled(position++)) taken.push_back(index);
        const fs::path dir = frames_root / subject;
        std::set<long long> missing;
        for (long long index : taken)
            if (!file_exists(dir / (std::to_string(index) + ".png"))) missing.insert(index);
        sink.summary().frames_reused += static_cast<std::int64_t>(taken.size() - missing.size());
        std::set<long long> decoded;
        std::string no_frame_reason;
        if (!missing.empty()) {
            auto video = find_video(root, subject, limits);
            if (!video) {
                no_frame_reason = "frame not extracted and no video found";
            } else {
                auto written = decode_frames(*video, missing, dir, limits);
                if (!written) {
                    if (written.error().code != errc::unsupported_media) return written.error();
                    no_frame_reason = "video could not be opened";
                } else {
                    decoded = std::move(*written);
                    no_frame_reason = "frame past the end of the video";
                }
            }
            sink.summary().frames_decoded += static_cast<std::int64_t>(decoded.size());
        }
        for (long long index : taken) {
            if (missing.count(index) && !decoded.count(index)) {
                sink.skip(no_frame_reason);
                continue;
            }
            const Intensities& values = frames.at(index);
            ManifestEntry entry;
            entry.source_id = subject + "_" + std::to_string(index);
            entry.subject = subject;
            entry.split = split;
            entry.image = dir / (std::to_string(index) + ".png");
            for (std::size_t c = 0; c < kAus.size(); ++c) {
                if (values[c] == kUncoded) {
                    ImportSink::unknown_level(entry.known,
                                              has_file[c] ? "AU" + std::to_string(kAus[c]) + ": no line for the frame"
                                                          : "AU" + std::to_string(kAus[c]) + ": no label file");
                    continue;
                }
                if (values[c] == kTrace && trace_unknown) {
                    ImportSink::unknown_level(entry.known, "AU" + std::to_string(kAus[c]) + ": intensity 1 (trace)");
                    continue;
                }
                sink.code_au(entry.known, kAus[c], values[c] >= kPresentFrom);
            }
            if (auto added = sink.add(std::move(entry)); !added) return added;
        }
    }
    return true;
}

}  // namespace seke::datasets
