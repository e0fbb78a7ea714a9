#pragma once
// The diff between what seke predicted for one image and what a human reviewer kept, and its
// merge into FEID records. Pure: no I/O. Platform-neutral (Label Studio now, CVAT later).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "plugin/records/feid_record.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke {

// One face seke predicted, as it was shown to the reviewer.
struct PredictedFace {
    std::string face_id;                   // the FEID record id
    std::optional<std::string> region_id;  // the region id the platform was given
    std::optional<Box> box;                // null: the whole image is the face
    LabelSet labels;
    Descriptions descriptions;
    LevelProvenance provenance;
};

// A stored face as the reviewer was shown it: seke's labels and descriptions from before any
// review, so a second review is diffed against the model too. `face_id` is the store's id.
PredictedFace predicted_face(const std::string& face_id, std::optional<std::string> region_id,
                             const FeidRecord& record);

// One face as the reviewer left it. A level left out of `labels` means "not reviewed";
// an empty description means "not edited".
struct ReviewedFace {
    std::optional<std::string> region_id;
    std::optional<Box> box;  // null for whole-image results
    LabelSet labels;
    Descriptions descriptions;
};

struct ReviewOptions {
    double va_tolerance = 0.05;  // a valence or arousal edit smaller than this counts as unchanged
    double iou_match = 0.5;      // least box overlap for a kept-but-redrawn region
};

enum class ReviewStatus { accepted, corrected, rejected };
std::string_view review_status_name(ReviewStatus status) noexcept;

// The review of one predicted face, with the labels it should carry from now on.
struct FaceReview {
    std::string face_id;
    ReviewStatus status = ReviewStatus::accepted;
    LevelVerdicts levels;
    LabelSet labels;                            // merged: human levels replace the model's
    Descriptions descriptions;                  // merged
    LevelProvenance provenance;                 // human for every level the reviewer gave
    std::optional<std::size_t> reviewed_index;  // the matched input face; null when rejected
};

struct ReviewOutcome {
    std::vector<FaceReview> faces;    // one per predicted face, in input order
    std::vector<ReviewedFace> added;  // reviewer faces matching no prediction (caller assigns ids)
};

// Intersection over union; 0 when either box is empty.
double box_iou(const Box& a, const Box& b) noexcept;

// Matches by region id, then by best box IoU >= iou_match, then whole image to whole image.
ReviewOutcome diff_review(const std::vector<PredictedFace>& predicted, const std::vector<ReviewedFace>& reviewed,
                          const ReviewOptions& options = {});

// The record with the review applied: labels, descriptions, provenance, status, conversations
// and a `review` object. Idempotent. A rejected review only changes status and `review`.
// Throws std::invalid_argument when the record's id is not review.face_id.
FeidRecord merge_review_into_record(const Knowledge& knowledge, const FeidRecord& record, const FaceReview& review,
                                    const std::string& reviewer, const std::string& reviewed_at);

// The record as the model left it, its review undone (the annotation that made it was deleted):
// the model's labels, descriptions and provenance, status "auto", no review block. A record
// never reviewed comes back unchanged. The box is the caller's (a CVAT review may have moved it).
FeidRecord reopened_record(const Knowledge& knowledge, const FeidRecord& record);

}  // namespace seke
