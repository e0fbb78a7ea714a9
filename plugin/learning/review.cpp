#include "plugin/learning/review.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <tuple>

#include "plugin/records/feid.hpp"
#include "verify/text.hpp"

namespace seke {
namespace {

std::optional<double> finite_value(const std::optional<double>& value) {
    if (value && std::isfinite(*value)) return value;
    return std::nullopt;
}

std::vector<std::string> without_duplicates(const std::vector<std::string>& codes) {
    std::vector<std::string> out;
    for (const auto& code : codes)
        if (std::find(out.begin(), out.end(), code) == out.end()) out.push_back(code);
    return out;
}

// A description the reviewer actually changed wins. A corrected level whose text was left as the
// model wrote it loses that text: it argued for the label the reviewer replaced.
std::string merged_description(const std::string& model, const std::string& human, LevelVerdict verdict) {
    std::string edited = trim(human);
    if (!edited.empty() && edited != trim(model)) return edited;
    return verdict == LevelVerdict::corrected ? std::string() : model;
}

FaceReview unmatched_review(const PredictedFace& p) {
    FaceReview r;
    r.face_id = p.face_id;
    r.status = ReviewStatus::rejected;
    r.labels = p.labels;
    r.descriptions = p.descriptions;
    r.provenance = p.provenance;
    return r;
}

FaceReview matched_review(const PredictedFace& p, const ReviewedFace& h, std::size_t index,
                          const ReviewOptions& options) {
    FaceReview r = unmatched_review(p);
    r.reviewed_index = index;
    const LabelSet& model = p.labels;
    const LabelSet& human = h.labels;

    if (human.expression) {
        bool same = model.expression == human.expression;
        r.levels.expression = same ? LevelVerdict::accepted : LevelVerdict::corrected;
        if (!same) r.labels.expression = human.expression;
    }

    // A component the reviewer left out keeps the model's value; NaN/Inf counts as left out.
    std::optional<double> valence = finite_value(human.valence);
    std::optional<double> arousal = finite_value(human.arousal);
    if (valence || arousal) {
        auto close = [&](const std::optional<double>& given, const std::optional<double>& predicted) {
            return !given || (predicted && std::fabs(*given - *predicted) < options.va_tolerance);
        };
        bool same = close(valence, model.valence) && close(arousal, model.arousal);
        r.levels.va = same ? LevelVerdict::accepted : LevelVerdict::corrected;
        if (!same) {
            if (valence) r.labels.valence = valence;
            if (arousal) r.labels.arousal = arousal;
        }
    }

    if (human.action_units) {
        std::set<std::string> given(human.action_units->begin(), human.action_units->end());
        bool same = model.action_units &&
                    given == std::set<std::string>(model.action_units->begin(), model.action_units->end());
        r.levels.au = same ? LevelVerdict::accepted : LevelVerdict::corrected;
        if (!same) r.labels.action_units = without_duplicates(*human.action_units);
    }

    bool corrected = false;
    for (Level level : kAllLevels) {
        LevelVerdict verdict = r.levels.of(level);
        if (verdict != LevelVerdict::absent) r.provenance.set(level, Provenance::human);
        corrected = corrected || verdict == LevelVerdict::corrected;
    }
    r.status = corrected ? ReviewStatus::corrected : ReviewStatus::accepted;

    r.descriptions.expression =
        merged_description(p.descriptions.expression, h.descriptions.expression, r.levels.expression);
    r.descriptions.va = merged_description(p.descriptions.va, h.descriptions.va, r.levels.va);
    r.descriptions.au = merged_description(p.descriptions.au, h.descriptions.au, r.levels.au);
    return r;
}

}  // namespace

PredictedFace predicted_face(const std::string& face_id, std::optional<std::string> region_id,
                             const FeidRecord& record) {
    return {face_id,          std::move(region_id), record.face, record.model_labels(), record.model_descriptions(),
            record.provenance};
}

std::string_view review_status_name(ReviewStatus status) noexcept {
    switch (status) {
        case ReviewStatus::accepted: return "accepted";
        case ReviewStatus::corrected: return "corrected";
        case ReviewStatus::rejected: return "rejected";
    }
    return "rejected";
}

double box_iou(const Box& a, const Box& b) noexcept {
    if (a.w <= 0 || a.h <= 0 || b.w <= 0 || b.h <= 0) return 0;
    // 64-bit: areas of large images overflow int.
    std::int64_t left = std::max(a.x, b.x), top = std::max(a.y, b.y);
    std::int64_t right = std::min(std::int64_t{a.x} + a.w, std::int64_t{b.x} + b.w);
    std::int64_t bottom = std::min(std::int64_t{a.y} + a.h, std::int64_t{b.y} + b.h);
    if (right <= left || bottom <= top) return 0;
    std::int64_t overlap = (right - left) * (bottom - top);
    std::int64_t area_a = std::int64_t{a.w} * a.h, area_b = std::int64_t{b.w} * b.h;
    return static_cast<double>(overlap) / static_cast<double>(area_a + area_b - overlap);
}

ReviewOutcome diff_review(const std::vector<PredictedFace>& predicted, const std::vector<ReviewedFace>& reviewed,
                          const ReviewOptions& options) {
    std::vector<std::optional<std::size_t>> match(predicted.size());
    std::vector<bool> taken(reviewed.size(), false);
    auto pair_up = [&](std::size_t i, std::size_t j) {
        match[i] = j;
        taken[j] = true;
    };

    // 1. Region id: the platform kept seke's region, whatever the reviewer did to its geometry.
    for (std::size_t i = 0; i < predicted.size(); ++i) {
        if (!predicted[i].region_id) continue;
        for (std::size_t j = 0; j < reviewed.size(); ++j)
            if (!taken[j] && reviewed[j].region_id == predicted[i].region_id) {
                pair_up(i, j);
                break;
            }
    }

    // 2. Box overlap, best pairs first (ties in input order, so the result is deterministic).
    std::vector<std::tuple<double, std::size_t, std::size_t>> candidates;
    for (std::size_t i = 0; i < predicted.size(); ++i) {
        if (match[i] || !predicted[i].box) continue;
        for (std::size_t j = 0; j < reviewed.size(); ++j) {
            if (taken[j] || !reviewed[j].box) continue;
            double iou = box_iou(*predicted[i].box, *reviewed[j].box);
            if (iou > 0 && iou >= options.iou_match) candidates.emplace_back(iou, i, j);
        }
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
    for (const auto& [iou, i, j] : candidates)
        if (!match[i] && !taken[j]) pair_up(i, j);

    // 3. Whole image to whole image, in order.
    for (std::size_t i = 0; i < predicted.size(); ++i) {
        if (match[i] || predicted[i].box) continue;
        for (std::size_t j = 0; j < reviewed.size(); ++j)
            if (!taken[j] && !reviewed[j].box) {
                pair_up(i, j);
                break;
            }
    }

    ReviewOutcome outcome;
    for (std::size_t i = 0; i < predicted.size(); ++i)
        outcome.faces.push_back(match[i] ? matched_review(predicted[i], reviewed[*match[i]], *match[i], options)
                                         : unmatched_review(predicted[i]));
    for (std::size_t j = 0; j < reviewed.size(); ++j)
        if (!taken[j]) outcome.added.push_back(reviewed[j]);
    return outcome;
}

FeidRecord merge_review_into_record(const Knowledge& knowledge, const FeidRecord& record, const FaceReview& review,
                                    const std::string& reviewer, const std::string& reviewed_at) {
    if (record.id != review.face_id)
        throw std::invalid_argument("review of face \"" + review.face_id + "\" does not belong to this record");

    FeidRecord out = record;
    // The first review's snapshot stays: a later merge must not record human labels as the model's.
    RecordReview merged;
    merged.status = std::string(review_status_name(review.status));
    merged.levels = review.levels;
    merged.reviewer = reviewer;
    merged.at = reviewed_at;
    merged.model_labels = record.model_labels();
    merged.model_descriptions = record.model_descriptions();
    const LevelProvenance before = record.model_provenance();

    if (record.review && record.review->model_au_provenance)
        merged.model_au_provenance = record.review->model_au_provenance;

    if (review.status != ReviewStatus::rejected) {
        out.labels = review.labels;
        out.descriptions = review.descriptions;
        out.provenance = review.provenance;
        // A review that judged the AUs made every one of them the reviewer's.
        if (review.levels.au != LevelVerdict::absent && !record.au_provenance.empty()) {
            if (!merged.model_au_provenance) merged.model_au_provenance = record.au_provenance;
            out.au_provenance.clear();
        }
        out.conversations = feid_conversations(knowledge, review.face_id, review.labels, review.descriptions);
    }
    out.status = merged.status;
    out.review = std::move(merged);
    // Kept when the expert labeled a level (readers of the JSON take it from here), and when the
    // merged record alone would no longer tell who labeled each level first (a source's fact
    // corrected, a rejection after a correction), so a reopened face gets it back.
    const LevelProvenance told = out.model_provenance();
    for (Level level : kAllLevels)
        if (before.of(level) == Provenance::expert || told.of(level) != before.of(level))
            out.review->model_provenance = before;
    return out;
}

FeidRecord reopened_record(const Knowledge& knowledge, const FeidRecord& record) {
    if (!record.review) return record;
    FeidRecord out = record;
    out.labels = record.model_labels();
    out.descriptions = record.model_descriptions();
    out.provenance = record.model_provenance();
    if (record.review->model_au_provenance) out.au_provenance = *record.review->model_au_provenance;
    out.conversations = feid_conversations(knowledge, record.id, out.labels, out.descriptions);
    out.status = "auto";
    out.review.reset();
    return out;
}

}  // namespace seke
