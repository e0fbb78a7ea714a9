#include "plugin/records/crops.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>

#include "connectors/crypto.hpp"

namespace seke {
namespace {

namespace fs = std::filesystem;

// Written beside the target and renamed into place: a crop file is whole or absent, so a re-run
// can trust every file it finds.
Result<bool> write_whole_file(const fs::path& path, const std::string& bytes) {
    const fs::path partial = path.string() + ".partial";
    {
        std::ofstream file(partial, std::ios::binary | std::ios::trunc);
        file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!file) {
            std::error_code ignored;
            fs::remove(partial, ignored);
            return make_error(errc::io_error, "cannot write " + partial.string());
        }
    }
    std::error_code ec;
    fs::rename(partial, path, ec);
    if (ec) return make_error(errc::io_error, "cannot rename to " + path.string() + ": " + ec.message());
    return true;
}

std::string error_reason(const Error& error) {
    return std::string(errc_name(error.code)) + ": " + error.message;
}

}  // namespace

std::string safe_file_stem(const std::string& id) {
    std::string name;
    for (char c : id) name += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_';
    if (name.empty() || name.front() == '.') name.insert(name.begin(), '_');
    return name.substr(0, 200);
}

std::string crop_file_name(const std::string& face_id) {
    std::string stem = safe_file_stem(face_id);
    if (stem != face_id) stem += "-" + sha256_hex(face_id).substr(0, 12);
    return stem + ".jpg";
}

CropWriter::CropWriter(std::string dir, FaceOptions options, const ImageLimits& limits)
    : dir_(std::move(dir)), limits_(limits), preparer_(std::make_unique<FacePreparer>(std::move(options), limits)) {}

Result<CropWriter> CropWriter::open(const std::string& dir, FaceOptions options, const ImageLimits& limits) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(errc::io_error, "cannot create the crop folder " + dir + ": " + ec.message());
    // A probe file now, so an unwritable folder stops the export before any record is written.
    auto probe = write_whole_file(fs::path(dir) / ".seke-write-check", "");
    if (!probe) return make_error(errc::io_error, "cannot write crops into " + dir + ": " + probe.error().message);
    fs::remove(fs::path(dir) / ".seke-write-check", ec);
    // The crop does not depend on these; leaving them out saves the work.
    options.expert = nullptr;
    options.thumbnail_side = 0;
    return CropWriter(dir, std::move(options), limits);
}

void CropWriter::skip(const FeidRecord& record, const std::string& reason) {
    ++counts_.skipped;
    if (counts_.skipped_reasons.size() < kMaxSkippedReasons)
        counts_.skipped_reasons.push_back(record.id + ": " + reason);
}

std::vector<std::string> CropWriter::write_item(const std::vector<FeidRecord>& records) {
    std::vector<std::string> paths(records.size());
    std::vector<std::size_t> boxed;    // records with a box, in order: every one is cut
    std::vector<std::size_t> missing;  // positions in `boxed` whose file is not there yet
    std::vector<PixelRegion> regions;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& face = records[i].face;
        if (!face) {
            ++counts_.whole_image;
            continue;
        }
        paths[i] = (fs::path(dir_) / crop_file_name(records[i].id)).string();
        std::error_code ec;
        if (fs::exists(paths[i], ec)) ++counts_.existing;
        else missing.push_back(boxed.size());
        boxed.push_back(i);
        regions.push_back({static_cast<double>(face->x), static_cast<double>(face->y), static_cast<double>(face->w),
                           static_cast<double>(face->h)});
    }
    if (missing.empty()) return paths;

    // The caller hands over one item's records, all of one image: it is read once.
    auto bytes = fetch_image_bytes(records[boxed.front()].image, limits_);
    if (!bytes) {
        for (std::size_t m : missing) {
            skip(records[boxed[m]], error_reason(bytes.error()));
            paths[boxed[m]].clear();
        }
        return paths;
    }
    auto together = preparer_->prepare_pixel_regions(*bytes, regions);
    for (std::size_t m : missing) {
        const std::size_t i = boxed[m];
        std::string jpeg;
        std::string reason;  // "<errc>: <message>" when the face gets no crop
        if (together && m < together->faces.size()) {
            jpeg = together->faces[m].jpeg;
        } else if (!together && regions.size() > 1) {
            // One box the image cannot give fails the cut of all: the others are cut alone.
            auto alone = preparer_->prepare_pixel_regions(*bytes, {regions[m]});
            if (alone && !alone->faces.empty()) jpeg = alone->faces.front().jpeg;
            else reason = alone ? "internal: no crop for the face" : error_reason(alone.error());
        } else {
            reason = together ? "internal: no crop for the face" : error_reason(together.error());
        }
        if (reason.empty()) {
            auto written = write_whole_file(paths[i], jpeg);
            if (written) ++counts_.written;
            else reason = error_reason(written.error());
        }
        if (!reason.empty()) {
            skip(records[i], reason);
            paths[i].clear();
        }
    }
    return paths;
}

}  // namespace seke
