#pragma once
// Finds face boxes in a (reduced) copy of an image, with the detector FaceOptions names.
#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include "connectors/image.hpp"
#include "verify/errors.hpp"

namespace seke {

class FaceDetector {
  public:
    explicit FaceDetector(const FaceOptions& options);
    ~FaceDetector();
    FaceDetector(const FaceDetector&) = delete;
    FaceDetector& operator=(const FaceDetector&) = delete;

    // Loads the model or cascade now, so a bad setting is reported before any image is read.
    Result<bool> ready() const;
    // The detector works on grey pixels (cascades) rather than BGR.
    bool wants_gray() const;
    // Face boxes of `shown` (BGR, or grey when wants_gray()), scaled by `to_full` into the
    // full-size image's pixels. Unordered; the caller filters and orders them. Thread-safe.
    // Errors: config_error when the model or cascade cannot be loaded.
    Result<std::vector<cv::Rect>> detect(const cv::Mat& shown, double to_full) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke
