// CVAT's webhook body (cvat/webhook.*): any body parses to an event or bad_json; a sync is only
// asked for a job with an id.
#include "fuzz/fuzz_support.hpp"
#include "plugin/cvat/webhook.hpp"

using namespace seke;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto event = cvat::parse_webhook_event(fuzz::as_text(data, size));
    if (!event) {
        SEKE_FUZZ_CHECK(event.error().code == errc::bad_json);
        return 0;
    }
    if (cvat::asks_for_sync(*event)) SEKE_FUZZ_CHECK(event->job_id.has_value() && event->event == "update:job");
    return 0;
}
