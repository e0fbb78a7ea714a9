#pragma once
// seke face results ↔ Label Studio result JSON (protocol §2). Pure: no I/O, never throws.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "plugin/label_studio/label_config.hpp"
#include "verify/labels.hpp"

namespace seke::label_studio {

struct ImageSize {
    int width = 0;  // EXIF-corrected pixels
    int height = 0;
};

struct FacePrediction {
    std::optional<Box> box;                // null: the whole image is the face
    std::optional<std::string> region_id;  // reuse a user-drawn region's id (interactive mode)
    LabelSet labels;
    Descriptions descriptions;
    Uncertainty uncertainty;
};

// One prediction: {"model_version", "score", "result": [...]}.
// With a face rectangle control: per face a region plus its per-region results (same id, geometry
// copied into value); controls that are not per-region get the most confident face's labels once.
// Without one: the most confident face's results, without geometry (other faces are dropped).
// Only controls present in the config are emitted, only values the config lists. `notes`, when
// given, receives one line per label dropped or face left out.
nlohmann::json build_prediction(const LabelingConfig& config, ImageSize size, const std::vector<FacePrediction>& faces,
                                const std::string& model_version, std::vector<std::string>* notes = nullptr);

// The text written to a single description TextArea, and its inverse (unmarked text → expression).
std::string combine_descriptions(const Descriptions& descriptions);
Descriptions split_descriptions(const std::string& text);

// A 10-character id like the ones LS gives regions.
std::string new_region_id();

// One face of an annotation (or prediction) result list, mapped back to seke's labels.
struct AnnotatedFace {
    std::optional<std::string> region_id;  // null for whole-image results
    std::optional<Box> box;                // pixels of the original image
    LabelSet labels;                       // canonical seke labels
    Descriptions descriptions;
    std::vector<std::string> problems;  // values not in the config's maps, bad geometry: reported, not guessed
};

// Groups a result list by region: per-region results join their rectangle by `id`; results of
// controls that are not per-region form one whole-image face. Results of other controls are ignored.
std::vector<AnnotatedFace> parse_annotation_result(const nlohmann::json& result_list, const LabelingConfig& config);

}  // namespace seke::label_studio
