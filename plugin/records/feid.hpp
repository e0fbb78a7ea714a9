#pragma once
// FEID records (one face each) as the labeler builds them, and their export views: seke's JSONL,
// LLaVA, ShareGPT.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "plugin/records/feid_record.hpp"
#include "plugin/records/store.hpp"
#include "verify/face_labeler.hpp"
#include "verify/knowledge.hpp"

namespace seke {

struct FeidInput {
    std::string id;
    std::string image;        // path or URI as the user gave it
    std::optional<Box> face;  // null: the whole image is the face
    bool whole_image_fallback = false;
    const FaceResult* result = nullptr;
    std::string model_version;
    std::string status = "auto";
    std::string phash;           // the crop's perceptual hash, kept in the record (near-duplicate checks)
    std::string thumbnail_jpeg;  // stored beside the record for review screens and few-shot examples
    std::string source;          // the dataset and its own id of the image, when a manifest said
    std::string source_id;
    std::optional<CropSettings> crop;  // what the face was cut with, kept beside the record
};

// The FEID record of one labeled face, conversations included.
FeidRecord feid_record(const Knowledge& knowledge, const FeidInput& input);
// The SV-UAMC trace, stored beside the prediction.
nlohmann::ordered_json trace_json(const Trace& trace);

// "<item>" for a lone face, "<item>_face<N>" (1-based) when an image holds several.
std::string face_id_for(const std::string& item_id, std::size_t index, std::size_t count);
// The store row of one labeled face: its FEID record and trace.
FaceRow face_row(const Knowledge& knowledge, const FeidInput& input, const std::string& item_id,
                 std::size_t face_index);
// "<errc>: <message>" for a face that got no labels.
std::string face_failure_reason(const FaceResult& result);
// The conversation turns of a record: rebuilt whenever its labels change (e.g. a human review).
std::vector<ConversationTurn> feid_conversations(const Knowledge& knowledge, const std::string& id,
                                                 const LabelSet& labels, const Descriptions& descriptions);

enum class ExportFormat { feid_jsonl, llava, sharegpt };
std::optional<ExportFormat> parse_export_format(const std::string& text);

// One exported entry for a stored FEID record (llava and sharegpt are views of it). `crop`: the
// path of the face's crop file (`seke export --images-out`), "" when none was written. With one,
// llava and sharegpt show the crop instead of the source image, and feid-jsonl keeps the image
// and box and adds "crop" after "face".
nlohmann::ordered_json export_entry(const FeidRecord& record, ExportFormat format, const std::string& crop = "");

// What one export wrote.
struct ExportCounts {
    std::size_t records = 0;
    std::size_t unreadable = 0;           // stored records that could not be read, left out
    std::vector<Error> unreadable_first;  // the first few of them, to name
};

class CropWriter;

// Writes the store's records in `format` to `out_path` (via "<out_path>.partial", renamed into
// place: an export is whole or absent). `statuses` empty: every status except rejected and
// withdrawn. With `crops`, each face's crop is written through it and the record points to it.
Result<ExportCounts> write_export(Store& store, ExportFormat format, const std::string& out_path,
                                  const std::set<std::string>& statuses, CropWriter* crops = nullptr);

}  // namespace seke
