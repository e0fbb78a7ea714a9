// What CVAT posts to seke's detector function (cvat/nuclio.*): any body parses to the frame's
// bytes and a threshold in [0, 1], or a 4xx error.
#include "fuzz/fuzz_support.hpp"
#include "plugin/cvat/nuclio.hpp"

using namespace seke;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto call = cvat::parse_detector_call(fuzz::as_text(data, size), 0.5);
    if (!call) {
        const errc code = call.error().code;
        SEKE_FUZZ_CHECK(code == errc::bad_json || code == errc::invalid_argument);
        return 0;
    }
    SEKE_FUZZ_CHECK(!call->image_bytes.empty());
    SEKE_FUZZ_CHECK(call->threshold >= 0 && call->threshold <= 1);
    SEKE_FUZZ_CHECK(call->image_bytes.size() <= size);  // base64 only shrinks
    return 0;
}
