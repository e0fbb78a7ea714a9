// AffectNet in either distribution: the 2017 CSV lists (Manually_Annotated_file_lists/
// training.csv and validation.csv, images under Manually_Annotated_Images/, each row with the
// face box) or the 2021 "8 labels" NPY files (train_set/ and val_set/, images/<id>.jpg with
// annotations/<id>_exp.npy, _val.npy, _aro.npy, pre-cropped faces).
#include <cmath>
#include <cstring>

#include "plugin/datasets/import.hpp"

namespace seke::datasets {
namespace {

// The expression codes 0-7, as target names; 8 None, 9 Uncertain and 10 No-Face follow.
const char* const kExpressionNames[] = {"neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt"};
constexpr double kNotAnnotated = -2;  // valence and arousal

// The expression code and VA of one image; false: skip it with `skip_reason`.
bool apply_labels(ImportSink& sink, KnownLabels& known, long long expression, double valence, double arousal,
                  std::string& skip_reason) {
    if (expression == 10) {
        skip_reason = "expression 10 (No-Face)";
        return false;
    }
    if (expression <= 7) sink.set_expression(known, kExpressionNames[expression]);
    else ImportSink::unknown_level(known, expression == 8 ? "expression 8 (None)" : "expression 9 (Uncertain)");
    if (valence == kNotAnnotated || arousal == kNotAnnotated) {
        ImportSink::unknown_level(known, "valence-arousal -2 (not annotated)");
    } else if (valence < -1 || valence > 1 || arousal < -1 || arousal > 1) {
        ImportSink::unknown_level(known, "valence-arousal outside [-1, 1]");
    } else {
        known.valence = valence;
        known.arousal = arousal;
    }
    return true;
}

// subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal
Result<bool> import_csv(ImportSink& sink, const fs::path& list, const fs::path& images, const std::string& split) {
    auto reader = LineReader::open(list, sink.limits());
    if (!reader) return reader.error();
    return reader->for_each([&](const std::string& line) -> std::optional<Error> {
        std::string_view text = line;
        if (reader->line_number() == 1 && text.rfind("\xEF\xBB\xBF", 0) == 0) text.remove_prefix(3);
        if (text.find_first_not_of(" \t") == std::string_view::npos) return std::nullopt;
        auto fields = split_fields(text, ',');
        // The header row, when the copy has one.
        if (reader->line_number() == 1 && !fields.empty() && fields[0] == "subDirectory_filePath") return std::nullopt;
        if (fields.size() != 9)
            return reader->error("expected 9 comma-separated fields, found " + std::to_string(fields.size()));
        long long box[4] = {};
        for (std::size_t i = 0; i < 4; ++i) {
            auto value = parse_whole_number(fields[1 + i]);
            if (!value) return reader->error("face box field \"" + std::string(fields[1 + i]) + "\" is not an integer");
            box[i] = *value;
        }
        auto expression = parse_integer(fields[6]);
        if (!expression || *expression < 0 || *expression > 10)
            return reader->error("expression \"" + std::string(fields[6]) + "\" is not 0-10");
        auto valence = parse_number(fields[7]);
        auto arousal = parse_number(fields[8]);
        if (!valence || !arousal) return reader->error("valence and arousal must be numbers");
        std::string path(fields[0]);
        if (path.empty() || fs::path(path).is_absolute() || path.find("..") != std::string::npos)
            return reader->error("image path \"" + path + "\" is not a path under the image folder");
        if (!sink.wants(split)) {
            sink.other_split();
            return std::nullopt;
        }
        ManifestEntry entry;
        entry.source_id = path;
        entry.split = split;
        std::string skip_reason;
        if (!apply_labels(sink, entry.known, *expression, *valence, *arousal, skip_reason)) {
            sink.skip(skip_reason);
            return std::nullopt;
        }
        if (box[2] <= 0 || box[3] <= 0) {
            sink.skip("face box width or height not positive");
            return std::nullopt;
        }
        entry.box = PixelRegion{static_cast<double>(box[0]), static_cast<double>(box[1]), static_cast<double>(box[2]),
                                static_cast<double>(box[3])};
        entry.image = images / path;
        if (!file_exists(entry.image)) {
            sink.skip("image missing");
            return std::nullopt;
        }
        if (auto added = sink.add(std::move(entry)); !added) return added.error();
        return std::nullopt;
    });
}

Result<bool> import_npy_set(ImportSink& sink, const fs::path& set, const std::string& split) {
    std::error_code ec;
    if (!fs::is_directory(set / "annotations", ec)) return true;
    if (!sink.wants(split)) return true;
    auto files = list_entries(set / "annotations", EntryKind::files, sink.limits());
    if (!files) return files.error();
    const std::string suffix = "_exp.npy";
    for (const auto& file : *files) {
        std::string name = file.filename().string();
        if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix)) continue;
        std::string id = name.substr(0, name.size() - suffix.size());
        auto expression = read_npy_scalar(file);
        if (!expression) return expression.error();
        if (std::floor(*expression) != *expression || *expression < 0 || *expression > 10)
            return make_error(errc::invalid_argument, file.string() + ": expression is not a whole number 0-10");
        double va[2] = {kNotAnnotated, kNotAnnotated};
        const char* va_suffixes[] = {"_val.npy", "_aro.npy"};
        for (int i = 0; i < 2; ++i) {
            fs::path va_file = set / "annotations" / (id + va_suffixes[i]);
            if (!file_exists(va_file)) continue;
            auto value = read_npy_scalar(va_file);
            if (!value) return value.error();
            va[i] = *value;
        }
        ManifestEntry entry;
        entry.source_id = set.filename().string() + "/" + id;
        entry.split = split;
        std::string skip_reason;
        if (!apply_labels(sink, entry.known, static_cast<long long>(*expression), va[0], va[1], skip_reason)) {
            sink.skip(skip_reason);
            continue;
        }
        entry.image = set / "images" / (id + ".jpg");
        if (!file_exists(entry.image)) {
            sink.skip("image missing");
            continue;
        }
        if (auto added = sink.add(std::move(entry)); !added) return added;
    }
    return true;
}

// The quoted value of `key` in an NPY header dict ("'descr': '<f8'"), or the raw text up to the
// next comma or closing parenthesis for unquoted ones.
std::string header_value(const std::string& header, const std::string& key) {
    std::size_t at = header.find("'" + key + "'");
    if (at == std::string::npos) return {};
    at = header.find(':', at);
    if (at == std::string::npos) return {};
    ++at;
    while (at < header.size() && header[at] == ' ') ++at;
    if (at < header.size() && (header[at] == '\'' || header[at] == '"')) {
        std::size_t end = header.find(header[at], at + 1);
        return end == std::string::npos ? std::string() : header.substr(at + 1, end - at - 1);
    }
    if (at < header.size() && header[at] == '(') {
        std::size_t end = header.find(')', at);
        return end == std::string::npos ? std::string() : header.substr(at, end - at + 1);
    }
    std::size_t end = header.find_first_of(",}", at);
    return header.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

}  // namespace

Result<double> read_npy_scalar(const fs::path& path) {
    constexpr std::uintmax_t kMaxNpyBytes = 1u << 16;  // a scalar and its header
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return make_error(errc::not_found, "cannot read " + path.string());
    auto bad = [&](const std::string& why) { return make_error(errc::invalid_argument, path.string() + ": " + why); };
    if (size > kMaxNpyBytes) return bad("larger than a 0-d NPY array");
    std::ifstream in(path, std::ios::binary);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) return bad("cannot be read");
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return bad("not an NPY file");
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    const int major = byte(6);
    std::size_t header_length = 0;
    std::size_t header_start = 0;
    if (major == 1) {
        header_length = byte(8) | (byte(9) << 8);
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) return bad("NPY header cut short");
        header_length = byte(8) | (byte(9) << 8) | (byte(10) << 16) | (static_cast<std::size_t>(byte(11)) << 24);
        header_start = 12;
    } else {
        return bad("NPY version " + std::to_string(major) + " is not 1, 2 or 3");
    }
    if (header_start + header_length > bytes.size()) return bad("NPY header cut short");
    const std::string header = bytes.substr(header_start, header_length);
    const std::string descr = header_value(header, "descr");
    const std::string shape = header_value(header, "shape");
    std::string compact;
    for (char c : shape)
        if (c != ' ') compact.push_back(c);
    if (compact != "()" && compact != "(1,)") return bad("shape " + shape + " is not a scalar");
    const std::string data = bytes.substr(header_start + header_length);
    if (descr.size() < 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '='))
        return bad("dtype \"" + descr + "\" is not little-endian");
    const char kind = descr[1];
    auto width_value = parse_integer(std::string_view(descr).substr(2));
    if (!width_value || *width_value < 1 || *width_value > 256) return bad("dtype \"" + descr + "\" has no size");
    const auto width = static_cast<std::size_t>(*width_value);
    const std::size_t item_bytes = kind == 'U' ? 4 * width : width;
    if (data.size() < item_bytes) return bad("data cut short");
    const std::size_t data_start = header_start + header_length;
    // `n` (at most 8) little-endian bytes of the data from `offset`.
    auto little_at = [&](std::size_t offset, std::size_t n) {
        unsigned long long value = 0;
        for (std::size_t i = 0; i < n; ++i)
            value |= static_cast<unsigned long long>(byte(data_start + offset + i)) << (8 * i);
        return value;
    };
    auto little = [&](std::size_t n) { return little_at(0, n); };
    if (kind == 'f' && width == 8) {
        double value = 0;
        unsigned long long raw = little(8);
        std::memcpy(&value, &raw, 8);
        if (!std::isfinite(value)) return bad("value is not finite");
        return value;
    }
    if (kind == 'f' && width == 4) {
        float value = 0;
        auto raw = static_cast<std::uint32_t>(little(4));
        std::memcpy(&value, &raw, 4);
        if (!std::isfinite(value)) return bad("value is not finite");
        return static_cast<double>(value);
    }
    if ((kind == 'i' || kind == 'u') && (width == 1 || width == 2 || width == 4 || width == 8)) {
        unsigned long long raw = little(width);
        if (kind == 'u') return static_cast<double>(raw);
        const unsigned shift = static_cast<unsigned>(64 - 8 * width);
        return static_cast<double>(static_cast<long long>(raw << shift) >> shift);
    }
    if (kind == 'U') {
        // UTF-32LE code points, padded with NULs: the number as text.
        std::string text;
        for (std::size_t i = 0; i < width; ++i) {
            auto code = static_cast<std::uint32_t>(little_at(4 * i, 4));
            if (code == 0) break;
            if (code > 0x7F) return bad("string value is not a number");
            text.push_back(static_cast<char>(code));
        }
        auto value = parse_number(text);
        if (!value) return bad("string value \"" + text + "\" is not a number");
        return *value;
    }
    return bad("dtype \"" + descr + "\" is not a float, integer or unicode string");
}

Result<bool> import_affectnet(ImportSink& sink) {
    const fs::path& root = sink.options().root;
    std::error_code ec;
    const fs::path lists = root / "Manually_Annotated_file_lists";
    if (fs::is_directory(lists, ec)) {
        const fs::path images = root / "Manually_Annotated_Images";
        const std::pair<const char*, const char*> sets[] = {{"training.csv", "train"},
                                                            {"validation.csv", "validation"}};
        bool any = false;
        for (const auto& [file, split] : sets) {
            if (!file_exists(lists / file)) continue;
            any = true;
            if (auto ok = import_csv(sink, lists / file, images, split); !ok) return ok;
        }
        if (!any) return make_error(errc::not_found, lists.string() + " has neither training.csv nor validation.csv");
        return true;
    }
    if (fs::is_directory(root / "train_set", ec) || fs::is_directory(root / "val_set", ec)) {
        if (auto ok = import_npy_set(sink, root / "train_set", "train"); !ok) return ok;
        return import_npy_set(sink, root / "val_set", "validation");
    }
    return make_error(errc::not_found, root.string() +
                                           " is not AffectNet as distributed: give the folder holding "
                                           "Manually_Annotated_file_lists/ (or train_set/ and val_set/)");
}

}  // namespace seke::datasets
