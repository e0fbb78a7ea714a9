// Label Studio's /predict body (label_studio/predict_request.*): any bytes parse to a typed
// request or a 4xx error; a request has its config, and each task is either usable with an
// image or marked unusable, with canonical prior labels.
#include "fuzz/fuzz_support.hpp"
#include "plugin/label_studio/predict_request.hpp"

using namespace seke;
using namespace seke::label_studio;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string stored = fuzz::source_file("config/label_studio/faces.xml");
    static LabelConfigCache configs(fuzz::knowledge());
    const PredictParsing parsing{configs, [](const std::string&) { return stored; },
                                 parse_prior_label_keys("expression,valence,arousal,action_units"), fuzz::knowledge()};
    auto request = parse_predict_request(fuzz::as_text(data, size), parsing);
    if (!request) {
        const errc code = request.error().code;
        SEKE_FUZZ_CHECK(code == errc::bad_json || code == errc::invalid_argument);
        return 0;
    }
    SEKE_FUZZ_CHECK(request->config != nullptr);
    for (const PredictTask& task : request->tasks) {
        SEKE_FUZZ_CHECK(task.unusable.has_value() || task.known.empty() || fuzz::canonical_labels(task.known));
        SEKE_FUZZ_CHECK(!task.unusable || task.image.empty());
    }
    for (const DrawnRegion& region : request->drawn)
        SEKE_FUZZ_CHECK(region.region.x >= 0 && region.region.y >= 0 && region.region.w > 0 && region.region.h > 0);
    return 0;
}
