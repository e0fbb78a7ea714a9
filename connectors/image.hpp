#pragma once
// Images in: from a path, an http(s) URL or a data URI; decoded with EXIF orientation; bounded
// in bytes and pixels; faces detected (or not) and cropped, resized and JPEG-encoded for the model.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/crypto.hpp"  // sha256_hex, base64_* used to be declared here
#include "verify/errors.hpp"
#include "verify/expert.hpp"

namespace seke {

class FaceExpert;  // connectors/face_expert.hpp

struct ImageLimits {
    std::size_t max_bytes = 50u << 20;      // encoded size
    std::int64_t max_pixels = 100'000'000;  // decoded width * height
    int download_timeout_ms = 30000;
};

// Reads the encoded bytes of `source`: a file path, http(s):// URL or data:image/...;base64 URI.
// Errors: not_found (no file), upstream_error/upstream_timeout (download), payload_too_large,
// invalid_argument (bad data URI / scheme).
Result<std::string> fetch_image_bytes(const std::string& source, const ImageLimits& limits);

enum class FaceMode { auto_detect, off, required };
std::optional<FaceMode> parse_face_mode(const std::string& text);  // "auto", "off", "required"
std::string face_mode_name(FaceMode mode);

// tiny: face-api's Tiny Face Detector network (the default: fast, finds turned and small faces);
// cascade: an OpenCV Haar or LBP cascade file.
enum class FaceDetectorKind { tiny, cascade };

struct FaceOptions {
    FaceMode mode = FaceMode::auto_detect;
    double margin = 0.25;    // added on each side, as a fraction of the face box
    int longest_side = 512;  // of the crop sent to the model
    int jpeg_quality = 90;
    int min_face_px = 40;  // smaller detections are ignored
    int max_faces = 16;
    FaceDetectorKind detector = FaceDetectorKind::tiny;
    std::string detector_model;                // face-api's tiny_face_detector_model-weights_manifest.json
    double detect_threshold = 0.5;             // tiny detector: lowest score that counts as a face
    std::string cascade_path;                  // empty: the Haar cascade from Debian's opencv-data
    int detect_longest_side = 416;             // detection runs on a copy this size (speed vs small faces)
    double detect_scale_step = 1.2;            // cascade pyramid step: larger is faster, may miss a face
    int thumbnail_side = 128;                  // kept per face for review screens and few-shot examples; 0 = none
    std::shared_ptr<const FaceExpert> expert;  // the built-in face expert, run on every face; null = off
};

// What a face crop's pixels depend on besides its box: kept with each labeled face, so an export
// cuts the crop the model saw whatever the options it runs with.
struct CropSettings {
    double margin = 0.25;
    int longest_side = 512;
    int jpeg_quality = 90;
    bool operator==(const CropSettings&) const = default;
};
CropSettings crop_settings(const FaceOptions& options);
// `options` cutting with `crop`'s margin, size and quality.
FaceOptions with_crop_settings(FaceOptions options, const CropSettings& crop);

struct Box {
    int x = 0, y = 0, w = 0, h = 0;  // pixels of the EXIF-corrected image
};

struct RegionFraction {
    double x = 0, y = 0, w = 0, h = 0;  // top-left corner and size, each a fraction in [0, 1]
};

// A face given in pixels of the EXIF-corrected image (a dataset's own face box): top-left corner
// and size.
struct PixelRegion {
    double x = 0, y = 0, w = 0, h = 0;
};

struct FaceCrop {
    std::optional<Box> box;             // null when the whole image is the face
    bool whole_image_fallback = false;  // auto mode found no face and used the whole image
    std::string jpeg;                   // what the model is shown
    std::string thumbnail_jpeg;         // a small copy (FaceOptions::thumbnail_side), "" when disabled
    std::string phash;  // 64-bit difference hash of the crop, 16 hex digits: near-duplicates differ in few bits
    // What the face expert read off this face (FaceOptions::expert), its points in pixels of the
    // EXIF-corrected image like `box`; null when it is off or could not read the face (the image
    // is prepared all the same).
    std::optional<ExpertReading> expert;
};

struct PreparedImage {
    int width = 0, height = 0;    // EXIF-corrected
    std::string content_hash;     // sha256 hex of the encoded source bytes
    std::vector<FaceCrop> faces;  // in reading order (top-to-bottom, left-to-right)
    CropSettings crop;            // what the faces were cut with
};

// Thread-safe face preparation.
class FacePreparer {
  public:
    FacePreparer(FaceOptions options, ImageLimits limits);
    ~FacePreparer();
    FacePreparer(const FacePreparer&) = delete;
    FacePreparer& operator=(const FacePreparer&) = delete;

    // Errors: unsupported_media (not an image), image_error (truncated/corrupt),
    // payload_too_large (pixels), no_face (mode required and none found).
    Result<PreparedImage> prepare(const std::string& encoded_bytes) const;
    // The same, but the faces are the given regions (fractions of the EXIF-corrected image, e.g.
    // a box an annotator drew) instead of detected ones. Regions outside the image are clipped;
    // empty ones are errors (invalid_argument).
    Result<PreparedImage> prepare_regions(const std::string& encoded_bytes,
                                          const std::vector<RegionFraction>& regions) const;
    // The same with the regions in pixels (a manifest line's `box`).
    Result<PreparedImage> prepare_pixel_regions(const std::string& encoded_bytes,
                                                const std::vector<PixelRegion>& regions) const;

    [[nodiscard]] const FaceOptions& options() const noexcept;
    // Loads the face detector now when the face mode uses one: a missing model or cascade is a
    // config_error at start-up rather than on every image.
    Result<bool> ready() const;

  private:
    struct Impl;
    // Every prepare_* above: `regions` in fractions of the image, or in pixels when `in_pixels`.
    Result<PreparedImage> prepare_faces(const std::string& encoded_bytes, const std::vector<RegionFraction>& regions,
                                        bool in_pixels) const;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke
