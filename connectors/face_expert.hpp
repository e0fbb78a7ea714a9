#pragma once
// The built-in face expert's networks, run on the CPU inside the process: face-api's
// FaceExpressionNet and 68-point landmark net, Human's emotion net and facemesh. Their weights
// are the npm packages' own files (scripts/fetch-models.sh), built into cv::dnn nets in code.
// A cv::dnn::Net is not thread-safe: each calling thread gets nets of its own.
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "verify/errors.hpp"
#include "verify/expert.hpp"

namespace seke {

struct ExpertModelPaths {
    std::string face_api_dir;  // face_expression_model-* and face_landmark_68_model-* (face-api's model/)
    std::string human_dir;     // emotion.{json,bin} and facemesh.{json,bin} (Human's models/)
};

class FaceExpert {
  public:
    // Reads and checks every weight file now. Errors: not_found (a file is missing; the message
    // says to run scripts/fetch-models.sh), config_error (a file that is not the expected model).
    static Result<std::shared_ptr<const FaceExpert>> load(const ExpertModelPaths& paths);
    ~FaceExpert();
    FaceExpert(const FaceExpert&) = delete;
    FaceExpert& operator=(const FaceExpert&) = delete;

    // Runs every network on the face at `face_box` (pixels of `bgr`, which should hold some
    // context around the face: the mesh looks at a box 1.4 times as large). Points come back in
    // `bgr`'s pixels. Thread-safe. Errors: invalid_argument (an empty image or box).
    Result<ExpertReading> read(const cv::Mat& bgr, const cv::Rect2f& face_box) const;

  private:
    FaceExpert();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke
