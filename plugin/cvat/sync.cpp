#include "plugin/cvat/sync.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "plugin/cvat/ids.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/learning/review.hpp"
#include "plugin/server/log.hpp"

namespace seke::cvat {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr double kPointTolerance = 0.5;  // pixels; CVAT stores floats, a redraw moves whole pixels
constexpr std::size_t kMaxSkipped = 200;
constexpr const char* kWithdrawn = "withdrawn";

std::optional<Box> box_of(const std::vector<double>& points) {
    if (points.size() < 4) return std::nullopt;
    double x1 = std::min(points[0], points[2]), x2 = std::max(points[0], points[2]);
    double y1 = std::min(points[1], points[3]), y2 = std::max(points[1], points[3]);
    return Box{static_cast<int>(std::lround(x1)), static_cast<int>(std::lround(y1)),
               static_cast<int>(std::lround(x2 - x1)), static_cast<int>(std::lround(y2 - y1))};
}

// The points of a shape as seke created it (its stored JSON); none when unreadable.
std::optional<std::vector<double>> created_points(const CvatShapeRow& row) {
    json created = json::parse(row.shape_json, nullptr, false);
    if (!created.is_object() || !created.contains("points") || !created["points"].is_array()) return std::nullopt;
    std::vector<double> points;
    for (const auto& p : created["points"]) {
        if (!p.is_number()) return std::nullopt;
        points.push_back(p.get<double>());
    }
    return points;
}

bool points_moved(const std::optional<std::vector<double>>& created, const std::vector<double>& now) {
    if (!created || created->size() != now.size()) return true;
    for (std::size_t i = 0; i < now.size(); ++i)
        if (std::fabs((*created)[i] - now[i]) > kPointTolerance) return true;
    return false;
}

// Two records say the same when they differ at most in when the review was made.
bool same_record(const FeidRecord& stored, FeidRecord merged) {
    if (stored.review && merged.review) merged.review->at = stored.review->at;
    return stored.to_json() == merged.to_json();
}

class JobSync {
  public:
    JobSync(const SyncDeps& deps, const CvatJob& job, const TaskBinding& binding)
        : deps_(deps), job_(job), binding_(binding), cvat_url_(store_url(deps.client.settings().url)) {
        for (const auto& [name, id] : binding.face_spec_ids) attribute_name_[id] = name;
        reviewer_ = job.assignee.empty() ? "cvat" : "cvat:" + job.assignee;
        reviewed_at_ = job.updated_date.empty() ? server::utc_timestamp() : job.updated_date;
    }

    Result<SyncSummary> run(const CvatAnnotations& annotations, const std::set<long long>& deleted_frames) {
        summary_.job_id = job_.id;
        summary_.task_id = job_.task_id;
        summary_.annotations_version = annotations.version;
        if (annotations.tracks) skip(std::to_string(annotations.tracks) + " tracks are not read (only shapes are)");
        auto ours = deps_.store.cvat_shapes(cvat_url_, job_.task_id, job_.start_frame, job_.stop_frame);
        if (!ours) return ours.error();
        auto tags = deps_.store.cvat_tags(cvat_url_, job_.task_id, job_.start_frame, job_.stop_frame);
        if (!tags) return tags.error();
        auto drawn = added_faces();
        if (!drawn) return drawn.error();
        std::map<long long, std::vector<const CvatShapeRow*>> ours_by_frame;
        for (const auto& row : *ours) ours_by_frame[row.frame].push_back(&row);
        std::map<long long, std::vector<const CvatShape*>> theirs_by_frame;
        for (const auto& shape : annotations.shapes) {
            if (shape.label_id != binding_.face_label_id) continue;
            if (shape.frame < job_.start_frame || shape.frame > job_.stop_frame) continue;
            if (shape.type != "rectangle") {
                skip("shape " + std::to_string(shape.id) + " on frame " + std::to_string(shape.frame) + " is a " +
                     shape.type + ", not a rectangle");
                continue;
            }
            theirs_by_frame[shape.frame].push_back(&shape);
        }
        std::map<long long, const CvatTagRow*> tag_by_frame;
        for (const auto& row : *tags) tag_by_frame.emplace(row.frame, &row);
        std::map<long long, const CvatTag*> tag_by_id;
        for (const auto& tag : annotations.tags) tag_by_id[tag.id] = &tag;
        std::map<long long, std::vector<DrawnFace>> drawn_by_frame;
        for (auto& face : *drawn) drawn_by_frame[face.frame].push_back(std::move(face));
        // Cleared whole (no shape, track or tag of any label left where seke had shapes): the
        // job starts over, so its faces are open again rather than every one rejected.
        summary_.cleared =
            !ours->empty() && annotations.shapes.empty() && annotations.tracks == 0 && annotations.tags.empty();
        std::set<long long> frames;
        for (const auto& [frame, _] : ours_by_frame) frames.insert(frame);
        for (const auto& [frame, _] : theirs_by_frame) frames.insert(frame);
        for (const auto& [frame, _] : drawn_by_frame) frames.insert(frame);
        for (long long frame : frames) {
            const std::vector<DrawnFace>& drawn_here = drawn_by_frame[frame];
            // A deleted frame is no longer part of the task: what was said about it is void.
            if (summary_.cleared || deleted_frames.count(frame)) {
                if (auto reopened = reopen_frame(ours_by_frame[frame]); !reopened) return reopened.error();
                if (auto withdrawn = withdraw_drawn(drawn_here, {}); !withdrawn) return withdrawn.error();
                continue;
            }
            const std::vector<const CvatShape*>& theirs = theirs_by_frame[frame];
            const CvatTagRow* tag_sent = nullptr;
            const CvatTag* tag_now = nullptr;
            if (auto row = tag_by_frame.find(frame); row != tag_by_frame.end())
                if (auto now = tag_by_id.find(row->second->tag_id); now != tag_by_id.end()) {
                    tag_sent = row->second;
                    tag_now = now->second;
                }
            auto synced = sync_frame(frame, ours_by_frame[frame], theirs, tag_sent, tag_now);
            if (!synced) return synced.error();
            if (auto withdrawn = withdraw_drawn(drawn_here, theirs); !withdrawn) return withdrawn.error();
        }
        return summary_;
    }

  private:
    void skip(std::string reason) {
        if (summary_.skipped.size() < kMaxSkipped) summary_.skipped.push_back(std::move(reason));
    }

    ReviewedFace reviewed(const CvatShape& shape) {
        std::vector<std::pair<std::string, std::string>> by_name;
        for (const auto& [spec_id, value] : shape.attributes)
            if (auto it = attribute_name_.find(spec_id); it != attribute_name_.end())
                by_name.emplace_back(it->second, value);
        ReadLabels read = labels_from_attributes(deps_.spec, deps_.knowledge, by_name);
        for (const auto& problem : read.problems)
            skip("shape " + std::to_string(shape.id) + " on frame " + std::to_string(shape.frame) + ": " + problem);
        return ReviewedFace{std::to_string(shape.id), box_of(shape.points), read.labels, {}};
    }

    // A face a human drew in CVAT, as the store keeps it.
    struct DrawnFace {
        long long frame = 0;
        long long shape_id = -1;
        FaceRow row;
        FeidRecord record;
    };

    // The faces humans drew on this job's frames (status added, or withdrawn before).
    Result<std::vector<DrawnFace>> added_faces() {
        const std::string prefix = task_item_prefix(job_.task_id);
        auto rows = deps_.store.human_faces(prefix);
        if (!rows) return rows.error();
        std::vector<DrawnFace> out;
        for (auto& row : *rows) {
            const std::string frame_text = row.item_id.substr(prefix.size());
            if (frame_text.empty() || frame_text.size() > 12 ||
                frame_text.find_first_not_of("0123456789") != std::string::npos)
                continue;
            const long long frame = std::stoll(frame_text);
            if (frame < job_.start_frame || frame > job_.stop_frame) continue;
            auto record = row.record();
            if (!record || !record->review || !record->review->cvat_shape_id) continue;
            out.push_back({frame, *record->review->cvat_shape_id, std::move(row), std::move(*record)});
        }
        return out;
    }

    // Drawn faces whose shape is no longer among `theirs` are withdrawn: kept for the record,
    // status "withdrawn", never exported or learned from.
    Result<bool> withdraw_drawn(const std::vector<DrawnFace>& drawn, const std::vector<const CvatShape*>& theirs) {
        for (const DrawnFace& face : drawn) {
            if (std::any_of(theirs.begin(), theirs.end(), [&](const CvatShape* s) { return s->id == face.shape_id; }))
                continue;
            ++summary_.withdrawn;
            if (face.row.status == kWithdrawn && face.record.status == kWithdrawn) continue;
            FeidRecord withdrawn = face.record;
            withdrawn.status = kWithdrawn;
            withdrawn.review->status = kWithdrawn;
            withdrawn.review->reviewer = reviewer_;
            withdrawn.review->at = reviewed_at_;
            if (auto saved = deps_.store.save_review(face.row.id, kWithdrawn, withdrawn); !saved) return saved.error();
            ++summary_.written;
        }
        return true;
    }

    // seke's faces of a deleted frame or a cleared job, back to the model's labels and box.
    Result<bool> reopen_frame(const std::vector<const CvatShapeRow*>& ours) {
        for (const CvatShapeRow* row : ours) {
            auto record = stored_record(*row);
            if (!record) return record.error();
            if (!*record) continue;
            FeidRecord reopened = reopened_record(deps_.knowledge, **record);
            if ((*record)->review && (*record)->review->box)
                if (auto points = created_points(*row))
                    if (auto box = box_of(*points)) reopened.face = box;
            ++summary_.reopened;
            if (same_record(**record, reopened)) continue;
            if (auto saved = deps_.store.save_review(row->face_id, "auto", reopened); !saved) return saved.error();
            ++summary_.written;
        }
        return true;
    }

    // The record of the face a shape carries; none (and a note) when it is gone or unreadable.
    Result<std::optional<FeidRecord>> stored_record(const CvatShapeRow& row) {
        auto face = deps_.store.face(row.face_id);
        if (!face) return face.error();
        if (!*face) {
            skip("shape " + std::to_string(row.shape_id) + ": its face " + row.face_id + " is not in the store");
            return std::optional<FeidRecord>();
        }
        auto record = (*face)->record();
        if (!record) {
            skip("shape " + std::to_string(row.shape_id) + ": " + record.error().message);
            return std::optional<FeidRecord>();
        }
        return std::optional<FeidRecord>(std::move(*record));
    }

    // The expression a human gave the frame tag, when it is not what seke wrote there.
    std::optional<std::string> changed_tag_expression(const CvatTagRow& sent, const CvatTag& now) {
        auto spec_id = binding_.tag_spec_ids.find(kExpressionAttribute);
        if (spec_id == binding_.tag_spec_ids.end()) return std::nullopt;
        auto value_of = [&](const std::vector<std::pair<long long, std::string>>& attributes) {
            for (const auto& [id, value] : attributes)
                if (id == spec_id->second) return std::optional<std::string>(value);
            return std::optional<std::string>();
        };
        std::vector<std::pair<long long, std::string>> written;
        json created = json::parse(sent.tag_json, nullptr, false);
        if (created.is_object() && created.contains("attributes") && created["attributes"].is_array())
            for (const auto& a : created["attributes"])
                if (a.is_object() && a.contains("spec_id") && a["spec_id"].is_number_integer() && a.contains("value") &&
                    a["value"].is_string())
                    written.emplace_back(a["spec_id"].get<long long>(), a["value"].get<std::string>());
        auto given = value_of(now.attributes);
        if (!given || given == value_of(written) || *given == kNoFaceValue) return std::nullopt;
        auto canonical = deps_.knowledge.canonical_expression(*given);
        if (!canonical)
            skip("tag " + std::to_string(now.id) + " on frame " + std::to_string(now.frame) + ": expression \"" +
                 *given + "\" is not a known expression");
        return canonical;
    }

    Result<bool> sync_frame(long long frame, const std::vector<const CvatShapeRow*>& ours,
                            const std::vector<const CvatShape*>& theirs, const CvatTagRow* tag_sent,
                            const CvatTag* tag_now) {
        std::vector<PredictedFace> predicted;
        std::vector<FeidRecord> records;
        std::vector<const CvatShapeRow*> rows;
        for (const CvatShapeRow* row : ours) {
            auto record = stored_record(*row);
            if (!record) return record.error();
            if (!*record) continue;
            predicted.push_back(predicted_face(row->face_id, std::to_string(row->shape_id), **record));
            records.push_back(std::move(**record));
            rows.push_back(row);
        }
        std::vector<ReviewedFace> faces;
        faces.reserve(theirs.size());
        for (const CvatShape* shape : theirs) faces.push_back(reviewed(*shape));
        // A frame tag whose expression a human changed speaks for the face it was written for,
        // unless that face's own shape says otherwise: the shape's attribute wins.
        if (tag_sent && tag_now)
            if (auto expression = changed_tag_expression(*tag_sent, *tag_now))
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    if (rows[i]->face_id != tag_sent->face_id) continue;
                    for (auto& face : faces)
                        if (face.region_id == std::to_string(rows[i]->shape_id) &&
                            (!face.labels.expression || face.labels.expression == predicted[i].labels.expression)) {
                            face.labels.expression = *expression;
                            ++summary_.tags_read;
                        }
                }

        // CVAT keeps a shape's id through every edit, so the id alone pairs them: a box a human
        // deleted and redrew is a rejection and an addition, not a correction.
        ReviewOptions options;
        options.iou_match = 2.0;
        ReviewOutcome outcome = diff_review(predicted, faces, options);
        for (std::size_t i = 0; i < outcome.faces.size(); ++i) {
            FaceReview review = outcome.faces[i];
            std::optional<Box> moved_to;
            if (review.reviewed_index) {
                const CvatShape& shape = *theirs[*review.reviewed_index];
                if (points_moved(created_points(*rows[i]), shape.points)) {
                    moved_to = box_of(shape.points);
                    review.status = ReviewStatus::corrected;
                }
            }
            FeidRecord merged = merge_review_into_record(deps_.knowledge, records[i], review, reviewer_, reviewed_at_);
            if (moved_to) {
                merged.face = moved_to;
                merged.review->box = "corrected";
            }
            std::string status(review_status_name(review.status));
            ++(review.status == ReviewStatus::accepted    ? summary_.accepted
               : review.status == ReviewStatus::corrected ? summary_.corrected
                                                          : summary_.rejected);
            if (same_record(records[i], merged)) continue;
            if (auto saved = deps_.store.save_review(review.face_id, status, merged); !saved) return saved.error();
            ++summary_.written;
        }
        for (const ReviewedFace& face : outcome.added) {
            const CvatShape* shape = nullptr;
            for (const CvatShape* s : theirs)
                if (std::to_string(s->id) == face.region_id) shape = s;
            if (!shape) continue;
            if (shape->source == "auto") {
                skip("shape " + std::to_string(shape->id) + " on frame " + std::to_string(frame) +
                     " was made automatically, not by seke's REST worker; it is not a human label");
                continue;
            }
            auto saved = save_added(frame, *shape, face);
            if (!saved) return saved.error();
        }
        return true;
    }

    Result<bool> save_added(long long frame, const CvatShape& shape, const ReviewedFace& face) {
        std::string item_id = frame_item_id(job_.task_id, frame);
        std::string face_id = added_face_id(job_.task_id, frame, shape.id);
        FaceResult human;
        human.ok = true;
        human.labels = face.labels;
        for (Level level : kAllLevels)
            if (face.labels.has(level)) human.provenance.set(level, Provenance::human);
        FeidInput input;
        input.id = face_id;
        input.image = frame_image_url(cvat_url_, job_.task_id, frame);
        input.face = face.box;
        input.result = &human;
        input.model_version = "human";
        input.status = "added";
        FeidRecord record = feid_record(deps_.knowledge, input);
        RecordReview origin;
        origin.status = "added";
        origin.reviewer = reviewer_;
        origin.at = reviewed_at_;
        origin.cvat_shape_id = shape.id;
        origin.cvat_source = shape.source;
        record.review = std::move(origin);
        ++summary_.added;
        auto existing = deps_.store.face(face_id);
        if (!existing) return existing.error();
        if (*existing) {
            // An unreadable stored record is replaced by this one.
            auto stored = (*existing)->record();
            if (stored && same_record(*stored, record)) return true;
        }
        ItemRow item;
        item.id = item_id;
        item.image = frame_image_url(cvat_url_, job_.task_id, frame);
        item.status = ItemStatus::done;
        FaceRow row;
        row.id = face_id;
        row.item_id = item_id;
        row.face_index = static_cast<int>(std::min<long long>(shape.id, 1'000'000'000LL));
        row.status = "added";
        row.model_version = "human";
        row.overall = 0;
        row.set_record(record);
        if (auto saved = deps_.store.save_human_face(item, row); !saved) return saved.error();
        ++summary_.written;
        return true;
    }

    const SyncDeps& deps_;
    const CvatJob& job_;
    const TaskBinding& binding_;
    std::string cvat_url_;
    std::map<long long, std::string> attribute_name_;  // spec_id → seke's attribute name
    std::string reviewer_;
    std::string reviewed_at_;
    SyncSummary summary_;
};

}  // namespace

Result<SyncSummary> sync_job(const SyncDeps& deps, long long job_id) {
    auto job = deps.client.job(job_id);
    if (!job) return job.error();
    auto labels = deps.client.labels_of_job(job_id);
    if (!labels) return labels.error();
    auto binding = bind_task_labels(deps.spec, deps.knowledge, json(*labels));
    if (!binding)
        return make_error(binding.error().code, "job " + std::to_string(job_id) + ": " + binding.error().message);
    auto annotations = deps.client.job_annotations(job_id);
    if (!annotations) return annotations.error();
    auto frames = deps.client.task_frames(job->task_id);
    if (!frames) return frames.error();
    JobSync sync(deps, *job, *binding);
    auto summary = sync.run(*annotations, frames->deleted_frames);
    if (!summary) return summary.error();
    CvatJobSyncRow row{store_url(deps.client.settings().url),    job->id, job->task_id, annotations->version,
                       json(sync_summary_json(*summary)).dump(), ""};
    if (auto saved = deps.store.save_cvat_job_sync(row); !saved) return saved.error();
    return summary;
}

ordered_json sync_summary_json(const SyncSummary& s) {
    ordered_json out;
    out["job"] = s.job_id;
    out["task"] = s.task_id;
    out["annotations_version"] = s.annotations_version;
    out["accepted"] = s.accepted;
    out["corrected"] = s.corrected;
    out["rejected"] = s.rejected;
    out["added"] = s.added;
    out["reopened"] = s.reopened;
    out["withdrawn"] = s.withdrawn;
    out["tags_read"] = s.tags_read;
    out["cleared"] = s.cleared;
    out["written"] = s.written;
    out["skipped"] = s.skipped;
    return out;
}

}  // namespace seke::cvat
