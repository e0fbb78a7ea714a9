#include "plugin/records/crops.hpp"

#include <algorithm>
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

void add_crop_summary(nlohmann::ordered_json& summary, const std::string& dir, const CropCounts& counts) {
    summary["images_out"] = fs::absolute(dir).string();
    summary["crops_written"] = counts.written;
    summary["crops_existing"] = counts.existing;
    summary["whole_image_records"] = counts.whole_image;
    summary["skipped_crops"] = counts.skipped;
    summary["crops_with_export_options"] = counts.export_options;
    summary["skipped_crop_reasons"] = counts.skipped_reasons;
}

CropWriter::CropWriter(std::string dir, FaceOptions options, const ImageLimits& limits)
    : dir_(std::move(dir)), options_(std::move(options)), limits_(limits) {}

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

const FacePreparer& CropWriter::preparer_for(const CropSettings& settings) {
    // A store of many runs with other settings each: the preparers kept stay few.
    constexpr std::size_t kMaxPreparers = 8;
    for (const auto& [kept, preparer] : preparers_)
        if (kept == settings) return *preparer;
    if (preparers_.size() >= kMaxPreparers) preparers_.erase(preparers_.begin());
    preparers_.emplace_back(settings, std::make_unique<FacePreparer>(with_crop_settings(options_, settings), limits_));
    return *preparers_.back().second;
}

std::vector<std::string> CropWriter::write_item(const std::vector<CropRecord>& records) {
    std::vector<std::string> paths(records.size());
    // The records with a box, grouped by what they were cut with: each group is cut together.
    struct Cut {
        CropSettings settings;
        std::vector<std::size_t> boxed;    // records of the group, in order
        std::vector<std::size_t> missing;  // positions in `boxed` whose file is not there yet
        std::vector<PixelRegion> regions;
    };
    std::vector<Cut> cuts;
    const CropSettings fallback = crop_settings(options_);
    bool any_missing = false;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& face = records[i].record.face;
        if (!face) {
            ++counts_.whole_image;
            continue;
        }
        const CropSettings settings = records[i].labeled_with.value_or(fallback);
        auto cut = std::find_if(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.settings == settings; });
        if (cut == cuts.end()) cut = cuts.insert(cuts.end(), Cut{settings, {}, {}, {}});
        paths[i] = (fs::path(dir_) / crop_file_name(records[i].record.id)).string();
        std::error_code ec;
        if (fs::exists(paths[i], ec)) {
            ++counts_.existing;
        } else {
            cut->missing.push_back(cut->boxed.size());
            any_missing = true;
        }
        cut->boxed.push_back(i);
        cut->regions.push_back({static_cast<double>(face->x), static_cast<double>(face->y),
                                static_cast<double>(face->w), static_cast<double>(face->h)});
    }
    if (!any_missing) return paths;

    // The caller hands over one item's records, all of one image: it is read once.
    auto bytes = fetch_image_bytes(records[cuts.front().boxed.front()].record.image, limits_);
    for (const Cut& cut : cuts) {
        if (cut.missing.empty()) continue;
        if (!bytes) {
            for (std::size_t m : cut.missing) {
                skip(records[cut.boxed[m]].record, error_reason(bytes.error()));
                paths[cut.boxed[m]].clear();
            }
            continue;
        }
        const FacePreparer& preparer = preparer_for(cut.settings);
        auto together = preparer.prepare_pixel_regions(*bytes, cut.regions);
        for (std::size_t m : cut.missing) {
            const std::size_t i = cut.boxed[m];
            std::string jpeg;
            std::string reason;  // "<errc>: <message>" when the face gets no crop
            if (together && m < together->faces.size()) {
                jpeg = together->faces[m].jpeg;
            } else if (!together && cut.regions.size() > 1) {
                // One box the image cannot give fails the cut of all: the others are cut alone.
                auto alone = preparer.prepare_pixel_regions(*bytes, {cut.regions[m]});
                if (alone && !alone->faces.empty()) jpeg = alone->faces.front().jpeg;
                else reason = alone ? "internal: no crop for the face" : error_reason(alone.error());
            } else {
                reason = together ? "internal: no crop for the face" : error_reason(together.error());
            }
            if (reason.empty()) {
                auto written = write_whole_file(paths[i], jpeg);
                if (written) {
                    ++counts_.written;
                    if (!records[i].labeled_with) ++counts_.export_options;
                } else {
                    reason = error_reason(written.error());
                }
            }
            if (!reason.empty()) {
                skip(records[i].record, reason);
                paths[i].clear();
            }
        }
    }
    return paths;
}

}  // namespace seke
