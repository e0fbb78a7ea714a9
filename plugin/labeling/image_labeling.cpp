#include "plugin/labeling/image_labeling.hpp"

#include <future>
#include <memory>
#include <mutex>

#include "connectors/crypto.hpp"
#include "plugin/records/feid.hpp"

namespace seke {

void label_faces(EngineService& engine, const PreparedImage& image, const LabelSet& known,
                 const LevelProvenance& provenance, std::function<void(std::vector<FaceResult>)> done) {
    struct Pending {
        std::mutex mutex;
        std::vector<FaceResult> results;
        std::size_t remaining = 0;
        std::function<void(std::vector<FaceResult>)> done;
    };
    if (image.faces.empty()) return done({});
    auto pending = std::make_shared<Pending>();
    pending->results.resize(image.faces.size());
    pending->remaining = image.faces.size();
    pending->done = std::move(done);
    for (std::size_t f = 0; f < image.faces.size(); ++f) {
        const FaceCrop& crop = image.faces[f];
        engine.submit(FaceJob{crop.jpeg, sha256_hex(crop.jpeg), known, provenance, crop.expert},
                      [pending, f](FaceResult result) {
                          bool last = false;
                          {
                              std::lock_guard lock(pending->mutex);
                              pending->results[f] = std::move(result);
                              last = --pending->remaining == 0;
                          }
                          if (last) pending->done(std::move(pending->results));
                      });
    }
}

std::vector<FaceResult> label_faces_blocking(EngineService& engine, const PreparedImage& image, const LabelSet& known,
                                             const LevelProvenance& provenance) {
    auto promise = std::make_shared<std::promise<std::vector<FaceResult>>>();
    auto future = promise->get_future();
    label_faces(engine, image, known, provenance,
                [promise](std::vector<FaceResult> results) { promise->set_value(std::move(results)); });
    return future.get();
}

LabeledImage labeled_image(const Knowledge& knowledge, const std::string& item_id, const std::string& image,
                           const PreparedImage& prepared, const std::vector<FaceResult>& results,
                           const std::string& model_version, const std::vector<std::string>& face_ids,
                           const ItemOptions& options) {
    LabeledImage out;
    ItemRow& item = out.outcome.item;
    item.id = item_id;
    item.image = image;
    item.known_json = options.known_json;
    item.content_hash = prepared.content_hash;
    item.width = prepared.width;
    item.height = prepared.height;
    for (std::size_t f = 0; f < results.size() && f < prepared.faces.size(); ++f) {
        const FaceResult& r = results[f];
        out.cost += r.cost;
        std::string face_id = f < face_ids.size() ? face_ids[f] : face_id_for(item_id, f, results.size());
        if (!r.ok) {
            out.errors += (out.errors.empty() ? "" : "; ") + (options.name_failed_faces ? face_id + ": " : "") +
                          face_failure_reason(r);
            continue;
        }
        const FaceCrop& crop = prepared.faces[f];
        FeidInput input{face_id,           image,        crop.box,   crop.whole_image_fallback, &r,
                        model_version,     "auto",       crop.phash, crop.thumbnail_jpeg,       options.source,
                        options.source_id, prepared.crop};
        out.outcome.faces.push_back(face_row(knowledge, input, item_id, f));
        out.labeled.push_back(f);
    }
    // An item is done only when every face got labels; a failed one is labeled again next time,
    // and the response cache makes the faces that did succeed free then.
    item.status = !out.errors.empty() || out.labeled.empty() ? ItemStatus::failed : ItemStatus::done;
    if (out.labeled.empty() && out.errors.empty()) {
        out.errors = "no face to label";
        if (prepared.faces.empty() && options.skip_faceless) item.status = ItemStatus::skipped;
    }
    item.error = out.errors;
    return out;
}

}  // namespace seke
