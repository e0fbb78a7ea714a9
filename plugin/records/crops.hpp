#pragma once
// The face crops of an export (`seke export --images-out DIR`): each face cut out of its source
// image by the labeling path's own crop (FacePreparer, with the margin and crop size of the face
// options), written once as DIR/<file name>, so that a training entry shows its own face rather
// than the whole photo.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

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
    std::vector<std::string> skipped_reasons;  // "<face id>: <reason>", the first kMaxSkippedReasons
};
inline constexpr std::size_t kMaxSkippedReasons = 10;

class CropWriter {
  public:
    // Creates `dir` when missing and checks that a file can be written in it (io_error if not).
    // `options` are the face options the faces were labeled with (margin, crop size, JPEG
    // quality); the expert and the thumbnail are not needed for a crop.
    static Result<CropWriter> open(const std::string& dir, FaceOptions options, const ImageLimits& limits);

    // The crop paths of the records of one item (one source image, read at most once), in
    // order: "dir/<crop_file_name(id)>", or "" for a whole-image record or one whose crop could
    // not be made (counted, with the reason). A file that exists is kept as it is. The faces are
    // cut together, as the labeling path cut them, so each gets the pixels it was labeled on.
    std::vector<std::string> write_item(const std::vector<FeidRecord>& records);

    [[nodiscard]] const CropCounts& counts() const noexcept { return counts_; }

  private:
    CropWriter(std::string dir, FaceOptions options, const ImageLimits& limits);
    void skip(const FeidRecord& record, const std::string& reason);

    std::string dir_;
    ImageLimits limits_;
    std::unique_ptr<FacePreparer> preparer_;
    CropCounts counts_;
};

}  // namespace seke
