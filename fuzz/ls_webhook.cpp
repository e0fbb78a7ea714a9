// Label Studio's /webhook body (label_studio/webhook_body.*) and the annotation results in it
// (label_studio/predictions.*, review_adapter.*): any bytes parse to the typed event or a
// bad_json error, a deletion withdraws ids and reviews nothing, what is not read is named within
// its bound, and every face read back from an annotation carries canonical labels.
#include "fuzz/fuzz_support.hpp"
#include "plugin/label_studio/label_config.hpp"
#include "plugin/label_studio/predictions.hpp"
#include "plugin/label_studio/review_adapter.hpp"
#include "plugin/label_studio/webhook_body.hpp"

using namespace seke;
using namespace seke::label_studio;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string stored = fuzz::source_file("config/label_studio/faces.xml");
    static LabelConfigCache configs(fuzz::knowledge());
    auto body = parse_webhook_body(fuzz::as_text(data, size));
    if (!body) {
        SEKE_FUZZ_CHECK(body.error().code == errc::bad_json);
        return 0;
    }
    SEKE_FUZZ_CHECK(!body->project.empty());
    SEKE_FUZZ_CHECK(body->unread.size() <= kMaxUnread);
    for (long long id : body->withdrawn) SEKE_FUZZ_CHECK(id >= 0);
    if (is_deletion(body->action)) SEKE_FUZZ_CHECK(body->annotations.empty());
    auto config = configs.get(body->label_config.empty() ? stored : body->label_config);
    if (!config || !(*config)->applicable()) return 0;
    for (const WebhookAnnotation& annotation : body->annotations) {
        auto faces = parse_annotation_result(annotation.result, **config);
        for (const AnnotatedFace& face : faces) SEKE_FUZZ_CHECK(fuzz::canonical_labels(face.labels));
        auto reviewed = reviewed_faces(faces);
        SEKE_FUZZ_CHECK(reviewed.size() == faces.size());
    }
    return 0;
}
