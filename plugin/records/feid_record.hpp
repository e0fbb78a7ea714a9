#pragma once
// The FEID record of docs/architecture.md, typed: one face, its labels and where they came from,
// and its review once a human has seen it. Its JSON text is what the store keeps and what
// `seke export` writes. to_json writes the members in one fixed order, so a record read from the
// store and written again is byte for byte the text it was read from. The face's thumbnail is
// kept beside the record (FaceRow::thumbnail_jpeg), not in it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "verify/errors.hpp"
#include "verify/expert.hpp"
#include "verify/labels.hpp"

namespace seke {

// What a review made of one level of a face.
enum class LevelVerdict { accepted, corrected, absent };
std::string_view level_verdict_name(LevelVerdict verdict) noexcept;
std::optional<LevelVerdict> parse_level_verdict(std::string_view text) noexcept;

using LevelVerdicts = PerLevel<LevelVerdict, LevelVerdict::absent>;

// The flag of a record whose face is the whole image because no face was detected.
inline constexpr const char* kNoFaceDetectedFlag = "no_face_detected";

// The uncertainty as stored: a number the engine could not give (not finite) is null, unknown.
struct RecordUncertainty {
    std::optional<double> expression, va, au, consistency, overall;
    // How far the vision LLM's labels were from the built-in expert's; absent when the expert did
    // not read the face, abstained, or was the provider.
    std::optional<double> expert_disagreement;

    static RecordUncertainty of(const Uncertainty& u);
    // Unknown as 0, as ranking and calibration read it.
    [[nodiscard]] Uncertainty values() const;
};

// What the built-in face expert said of the face, whether or not its labels are the final ones,
// and what it cannot say: classes no network covers and AUs geometry cannot see (those are
// unknown, not absent).
struct RecordExpert {
    bool abstained = false;
    std::string abstain_reason;
    std::optional<std::string> expression;
    std::vector<std::pair<std::string, double>> probabilities;  // over the classes it covers, largest first
    std::optional<double> classifier_agreement;                 // of its two expression networks, in [0, 1]
    std::optional<double> valence, arousal;                     // derived from the probabilities and geometry
    std::vector<std::string> action_units;                      // judged present
    std::vector<std::string> au_judged;                         // judged at all, present or absent
    std::vector<std::string> au_unknown;                        // neither present nor absent
    std::vector<std::string> not_covered;                       // classes it never gives

    static RecordExpert of(const ExpertOpinion& opinion);
    bool operator==(const RecordExpert&) const = default;
};

struct ConversationTurn {
    std::string from;  // human | gpt
    std::string value;
    bool operator==(const ConversationTurn&) const = default;
};

// A human review merged into the record (learning/review.hpp), or the origin of a face a human
// drew (status "added").
struct RecordReview {
    std::string status;                   // accepted | corrected | rejected | added
    std::optional<LevelVerdicts> levels;  // absent on a face a human drew
    std::string reviewer;
    std::string at;
    std::optional<LabelSet> model_labels;  // what seke said before the first review
    std::optional<Descriptions> model_descriptions;
    // Who gave each level before the first review, kept when that was not the model alone (the
    // built-in expert): a review turns them all into "human".
    std::optional<LevelProvenance> model_provenance;
    // The record's au_provenance before a review that judged the AUs (which makes every AU human).
    std::optional<AuProvenance> model_au_provenance;
    std::optional<std::string> box;          // "corrected": the reviewer moved the box (CVAT)
    std::optional<long long> cvat_shape_id;  // a face a human drew in CVAT: its shape
    std::optional<std::string> cvat_source;
};

struct FeidRecord {
    std::string id;
    std::string image;        // path or URI as the user gave it
    std::string source;       // the dataset the image is from (`seke import`); "" (not written) when unknown
    std::string source_id;    // the dataset's own id of the file or frame; "" (not written) when unknown
    std::optional<Box> face;  // null: the whole image is the face
    LabelSet labels;          // the labels now: a reviewer's once reviewed
    Descriptions descriptions;
    LevelProvenance provenance;
    // Who gave each AU, when not every AU has provenance.au: a source coded some AUs and the
    // engine the rest (JSON "au_provenance": {"AU1": "source", "AU5": "model", ...}). Empty (not
    // written) otherwise.
    AuProvenance au_provenance;
    RecordUncertainty uncertainty;       // what the model said, kept through reviews
    std::optional<RecordExpert> expert;  // when the built-in expert read the face
    std::string status = "auto";         // auto | accepted | corrected | rejected | added
    std::string model_version;
    Cost cost;
    std::vector<std::string> flags;  // kNoFaceDetectedFlag
    std::string phash;               // the crop's perceptual hash; "" (not written) when unknown
    std::vector<ConversationTurn> conversations;
    std::optional<RecordReview> review;
    // Top-level members this type does not know, kept as they were and written last: a review of
    // a record written by another tool loses nothing.
    nlohmann::ordered_json other = nlohmann::ordered_json::object();

    // What seke gave before any review (what a review is diffed against); the labels now when
    // the record was never reviewed.
    [[nodiscard]] const LabelSet& model_labels() const;
    [[nodiscard]] const Descriptions& model_descriptions() const;
    // Who labeled each level first. Once reviewed a level's provenance is "human"; a level the
    // review could judge was the model's.
    [[nodiscard]] LevelProvenance model_provenance() const;

    // Non-finite numbers are written as null (JSON has no NaN).
    [[nodiscard]] nlohmann::ordered_json to_json() const;
    // A member left out or null takes its default; a member of the wrong type is a bad_json
    // error that names it.
    static Result<FeidRecord> from_json(const nlohmann::ordered_json& json);
    // The stored text.
    static Result<FeidRecord> parse(std::string_view text);
};

}  // namespace seke
