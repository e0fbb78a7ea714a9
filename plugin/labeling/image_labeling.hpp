#pragma once
// Labeling the faces of one prepared image, shared by every front end (Label Studio's /predict,
// CVAT's function and REST worker, the batch driver of `seke label`): hand every face to the
// engine, collect the results, and turn them into the item's store rows.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "connectors/image.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/records/store.hpp"
#include "verify/knowledge.hpp"

namespace seke {

// Submits every face of `image` to the engine; `done` runs once, on the engine's thread, with
// one result per face in face order (so keep it short: post store writes elsewhere). An image
// without faces calls `done` at once with an empty list.
void label_faces(EngineService& engine, const PreparedImage& image, const LabelSet& known,
                 const LevelProvenance& provenance, std::function<void(std::vector<FaceResult>)> done);
// The same, waiting for the results (for command-line workers).
std::vector<FaceResult> label_faces_blocking(EngineService& engine, const PreparedImage& image, const LabelSet& known,
                                             const LevelProvenance& provenance);

// What differs between the front ends' items. The servers keep the defaults: they answer for one
// image at a time and never hand over one without faces. The batch driver keeps the manifest's
// known labels with the item, names each failed face (its summary lists items, not faces), and
// skips an image without faces, which a re-run would not find faces in either.
struct ItemOptions {
    std::string known_json;          // the prior labels as given ("" stores {})
    bool name_failed_faces = false;  // "<face id>: <reason>" instead of "<reason>"
    bool skip_faceless = false;      // an image without faces is skipped instead of failed
    std::string source;              // the item's dataset and its id there, kept in each face's record
    std::string source_id;
};

// The store rows of one labeled image: a face row per labeled face; failed faces are named in
// `errors` and leave the item failed. `face_ids[i]` names face i; empty: face_id_for.
struct LabeledImage {
    ItemOutcome outcome;
    std::vector<std::size_t> labeled;  // indexes of the faces that got labels
    std::string errors;                // "; "-joined reasons of the faces that did not
    Cost cost;                         // of every face, failed ones included
};
LabeledImage labeled_image(const Knowledge& knowledge, const std::string& item_id, const std::string& image,
                           const PreparedImage& prepared, const std::vector<FaceResult>& results,
                           const std::string& model_version, const std::vector<std::string>& face_ids = {},
                           const ItemOptions& options = {});

}  // namespace seke
