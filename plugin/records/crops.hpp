#pragma once
// The face crops of an export (`seke export --images-out DIR`): each face cut out of its source
// image by the labeling path's own crop (FacePreparer, with the margin, crop size and JPEG quality
// the face was labeled with, which the store keeps with it), written once as DIR/<file name>, so
// that a training entry shows its own face rather than the whole photo.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "plugin/records/feid_record.hpp"
#include "verify/errors.hpp"

namespace seke {

// A file name for an id chosen by users (it may hold '/', spaces, anything): each character
// outside [A-Za-z0-9._-] becomes '_', a leading '.' gets a '_' in front, and the result is cut
// at 200 characters.
std::string safe_file_stem(const std::string& id);

// The crop's file name for a face id: safe_file_stem(id) + ".jpg" when that kept the id as it
// was; otherwise "-" and the first 12 hex digits of the id's SHA-256 go before ".jpg", so
// "a/b" and "a_b" get different files ("a_b-<hash>.jpg" and "a_b.jpg").
std::string crop_file_name(const std::string& face_id);

struct CropCounts {
    std::size_t written = 0;                   // crop files written by this run
    std::size_t existing = 0;                  // crop files already there (not rewritten)
    std::size_t whole_image = 0;               // records whose face is the whole image: they keep its path
    std::size_t skipped = 0;                   // records with a box whose crop could not be made
    std::size_t export_options = 0;            // crops written with the export's face options: the store
                                               // did not say what the face was labeled with
    std::vector<std::string> skipped_reasons;  // "<face id>: <reason>", the first kMaxSkippedReasons
};
inline constexpr std::size_t kMaxSkippedReasons = 10;

// One exported record and what its face was cut with when it was labeled (FaceRow::crop).
struct CropRecord {
    FeidRecord record;
    std::optional<CropSettings> labeled_with;  // null: not kept (labeled before the store kept it)
};

// The counts as an export's summary gives them: images_out (`dir` made absolute), crops_written,
// crops_existing, whole_image_records, skipped_crops, crops_with_export_options,
// skipped_crop_reasons.
void add_crop_summary(nlohmann::ordered_json& summary, const std::string& dir, const CropCounts& counts);

class CropWriter {
  public:
    // Creates `dir` when missing and checks that a file can be written in it (io_error if not).
    // `options` are the export's face options: a face the store keeps no crop settings for is
    // cut with their margin, crop size and JPEG quality; the expert and the thumbnail are not
    // needed for a crop.
    static Result<CropWriter> open(const std::string& dir, FaceOptions options, const ImageLimits& limits);

    // The crop paths of the records of one item (one source image, read at most once), in
    // order: "dir/<crop_file_name(id)>", or "" for a whole-image record or one whose crop could
    // not be made (counted, with the reason). A file that exists is kept as it is. The faces
    // labeled with the same settings are cut together, as the labeling path cut them, so each
    // gets the pixels it was labeled on.
    std::vector<std::string> write_item(const std::vector<CropRecord>& records);

    [[nodiscard]] const CropCounts& counts() const noexcept { return counts_; }

  private:
    CropWriter(std::string dir, FaceOptions options, const ImageLimits& limits);
    void skip(const FeidRecord& record, const std::string& reason);
    // The preparer cutting with `settings`, made once.
    const FacePreparer& preparer_for(const CropSettings& settings);

    std::string dir_;
    FaceOptions options_;
    ImageLimits limits_;
    // One per crop settings met (few: one per labeling run), in the order first met.
    std::vector<std::pair<CropSettings, std::unique_ptr<FacePreparer>>> preparers_;
    CropCounts counts_;
};

}  // namespace seke
