// One line of a `seke label` manifest (labeling/manifest.*): any line parses to a job with an
// id, an image and canonical prior labels whose JSON is kept, or an error.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.hpp"
#include "plugin/labeling/manifest.hpp"

using namespace seke;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto job = parse_manifest_line(fuzz::as_text(data, size), "/nonexistent/base", fuzz::knowledge());
    if (!job) {
        const errc code = job.error().code;
        SEKE_FUZZ_CHECK(code == errc::bad_json || code == errc::invalid_argument);
        return 0;
    }
    SEKE_FUZZ_CHECK(!job->id.empty() && !job->image.empty() && !job->source.empty());
    SEKE_FUZZ_CHECK(fuzz::canonical_labels(job->known));
    auto kept = nlohmann::json::parse(job->known_json, nullptr, false);
    SEKE_FUZZ_CHECK(kept.is_object());
    return 0;
}
