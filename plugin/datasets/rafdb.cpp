// RAF-DB's basic subset as distributed: EmoLabel/list_patition_label.txt (the misspelling is the
// file's real name) with "train_00001.jpg 5" per line, Image/aligned/<stem>_aligned.jpg and
// Image/original/<name>, and the original image's face box in
// Annotation/boundingbox/<stem>_boundingbox.txt ("x_min y_min x_max y_max").
#include "plugin/datasets/import.hpp"

namespace seke::datasets {
namespace {

// The list's labels 1-7 (Self-Cure-Network's order), as target names.
const char* const kLabelNames[] = {"surprise", "fear", "disgust", "happy", "sad", "anger", "neutral"};

// The one line "x_min y_min x_max y_max" in pixels of the original image.
Result<PixelRegion> read_box(const fs::path& path, const ImportLimits& limits) {
    auto reader = LineReader::open(path, limits);
    if (!reader) return reader.error();
    std::optional<PixelRegion> box;
    auto read = reader->for_each([&](const std::string& line) -> std::optional<Error> {
        auto fields = split_whitespace(line);
        if (fields.empty()) return std::nullopt;
        if (box || fields.size() != 4)
            return reader->error("a bounding box file holds one line x_min y_min x_max y_max");
        double v[4] = {};
        for (std::size_t i = 0; i < 4; ++i) {
            auto number = parse_number(fields[i]);
            if (!number) return reader->error("\"" + std::string(fields[i]) + "\" is not a number");
            v[i] = *number;
        }
        if (v[2] <= v[0] || v[3] <= v[1]) return reader->error("x_max and y_max must exceed x_min and y_min");
        box = PixelRegion{v[0], v[1], v[2] - v[0], v[3] - v[1]};
        return std::nullopt;
    });
    if (!read) return read.error();
    if (!box) return make_error(errc::invalid_argument, path.string() + ":1: empty bounding box file");
    return *box;
}

}  // namespace

Result<bool> import_rafdb(ImportSink& sink) {
    const ImportLimits& limits = sink.limits();
    // ROOT is basic/ (holding EmoLabel/), or the folder above it.
    fs::path root = sink.options().root;
    std::error_code ec;
    if (!fs::is_directory(root / "EmoLabel", ec) && fs::is_directory(root / "basic" / "EmoLabel", ec)) root /= "basic";
    fs::path list = root / "EmoLabel" / "list_patition_label.txt";
    if (!file_exists(list) && file_exists(root / "EmoLabel" / "list_partition_label.txt"))
        list = root / "EmoLabel" / "list_partition_label.txt";
    if (!file_exists(list))
        return make_error(errc::not_found, sink.options().root.string() +
                                               " is not RAF-DB as distributed: give the basic/ folder holding "
                                               "EmoLabel/list_patition_label.txt");
    const bool aligned = sink.options().images != "original";
    auto reader = LineReader::open(list, limits);
    if (!reader) return reader.error();
    return reader->for_each([&](const std::string& line) -> std::optional<Error> {
        auto fields = split_whitespace(line);
        if (fields.empty()) return std::nullopt;
        if (fields.size() != 2) return reader->error("a line is an image name and its label");
        std::string name(fields[0]);
        auto label = parse_integer(fields[1]);
        if (!label || *label < 1 || *label > 7)
            return reader->error("label \"" + std::string(fields[1]) + "\" is not 1-7");
        std::string split = name.rfind("train_", 0) == 0 ? "train" : name.rfind("test_", 0) == 0 ? "test" : "";
        if (split.empty() || name.find('/') != std::string::npos)
            return reader->error("image name \"" + name + "\" starts with neither train_ nor test_");
        std::string stem = fs::path(name).stem().string();
        ManifestEntry entry;
        entry.source_id = stem;
        entry.split = split;
        if (!sink.wants(split)) {
            sink.other_split();
            return std::nullopt;
        }
        sink.set_expression(entry.known, kLabelNames[*label - 1]);
        entry.image =
            aligned ? root / "Image" / "aligned" / (stem + "_aligned.jpg") : root / "Image" / "original" / name;
        if (!file_exists(entry.image)) {
            sink.skip("image missing");
            return std::nullopt;
        }
        if (!aligned) {
            fs::path box_file = root / "Annotation" / "boundingbox" / (stem + "_boundingbox.txt");
            if (file_exists(box_file)) {
                auto box = read_box(box_file, limits);
                if (!box) return box.error();
                entry.box = *box;
            }
        }
        if (auto added = sink.add(std::move(entry)); !added) return added.error();
        return std::nullopt;
    });
}

}  // namespace seke::datasets
