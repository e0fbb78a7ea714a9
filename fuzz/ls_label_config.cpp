// A Label Studio labeling config (label_studio/label_config.*): any text parses to a config or
// an invalid_argument error; an applicable config maps every label it offers both ways, and a
// prediction written for it serialises as the store keeps it (strict UTF-8).
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.hpp"
#include "plugin/label_studio/label_config.hpp"
#include "plugin/label_studio/predictions.hpp"

using namespace seke;
using namespace seke::label_studio;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Knowledge& knowledge = fuzz::knowledge();
    auto config = parse_label_config(fuzz::as_text(data, size), knowledge);
    if (!config) {
        SEKE_FUZZ_CHECK(config.error().code == errc::invalid_argument);
        return 0;
    }
    for (const auto& [label, value] : config->expression_to_config)
        SEKE_FUZZ_CHECK(config->config_expression(label) == value);
    for (const auto& [label, value] : config->au_to_config) SEKE_FUZZ_CHECK(config->config_action_unit(label) == value);
    if (!config->applicable()) return 0;
    // One face per class, each with every AU, written as Label Studio reads it.
    std::vector<FacePrediction> faces;
    std::vector<std::string> all_units;
    for (const auto& unit : knowledge.action_units) all_units.push_back(unit.code);
    int x = 0;
    for (const auto& expression : knowledge.expressions) {
        FacePrediction face;
        face.box = Box{x, 10, 40, 40};
        x += 50;
        face.labels = LabelSet{expression.name, 0.5, -0.25, all_units, std::nullopt};
        face.descriptions = Descriptions{"a smile", "pleasant", "cheeks raised"};
        faces.push_back(std::move(face));
    }
    nlohmann::json prediction = build_prediction(*config, ImageSize{640, 480}, faces, "fuzz-model");
    const std::string text = prediction.dump();  // throws on invalid UTF-8, as the store's dump would
    SEKE_FUZZ_CHECK(!text.empty());
    // Read back as an annotation: labels come back canonical.
    if (prediction.contains("result"))
        for (const AnnotatedFace& face : parse_annotation_result(prediction["result"], *config))
            SEKE_FUZZ_CHECK(fuzz::canonical_labels(face.labels));
    return 0;
}
