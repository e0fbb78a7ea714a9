// An image's bytes through the image path without a face detector (connectors/image.*): format
// sniffing, the JPEG/PNG structure walk, the pixel limit from the header, the decode with EXIF
// orientation, and the whole image or a drawn region cropped and re-encoded. Any bytes give a
// prepared image within the limits or one of the image errors.
#include "connectors/image.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace seke;

namespace {

const FacePreparer& preparer() {
    static const FacePreparer instance = [] {
        FaceOptions options;
        options.mode = FaceMode::off;
        options.longest_side = 64;
        options.thumbnail_side = 16;
        ImageLimits limits;
        limits.max_bytes = 1u << 20;
        limits.max_pixels = 4'000'000;
        return FacePreparer(options, limits);
    }();
    return instance;
}

bool expected(errc code) {
    return code == errc::unsupported_media || code == errc::image_error || code == errc::payload_too_large ||
           code == errc::invalid_argument;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes = fuzz::as_text(data, size);
    auto whole = preparer().prepare(bytes);
    if (!whole) {
        SEKE_FUZZ_CHECK(expected(whole.error().code));
        return 0;
    }
    SEKE_FUZZ_CHECK(whole->width > 0 && whole->height > 0);
    SEKE_FUZZ_CHECK(static_cast<long long>(whole->width) * whole->height <= 4'000'000);
    SEKE_FUZZ_CHECK(whole->faces.size() == 1 && !whole->faces[0].jpeg.empty());
    auto drawn = preparer().prepare_regions(bytes, {RegionFraction{0.25, 0.25, 0.5, 0.5}});
    if (!drawn) SEKE_FUZZ_CHECK(expected(drawn.error().code));
    return 0;
}
