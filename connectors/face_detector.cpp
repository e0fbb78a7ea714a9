#include "connectors/face_detector.hpp"

#include <filesystem>
#include <mutex>
#include <optional>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "connectors/tiny_face_net.hpp"

namespace seke {
namespace {

constexpr const char* kDefaultCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

}  // namespace

struct FaceDetector::Impl {
    FaceOptions options;

    // cv::CascadeClassifier is not thread-safe: a pool hands one to each concurrent caller.
    std::mutex pool_mutex;
    std::vector<std::unique_ptr<cv::CascadeClassifier>> pool;

    // The network is read-only once loaded, so every thread shares it.
    std::once_flag net_once;
    std::optional<Result<TinyFaceNet>> net;

    std::string cascade_path() const { return options.cascade_path.empty() ? kDefaultCascade : options.cascade_path; }

    Result<std::unique_ptr<cv::CascadeClassifier>> borrow() {
        {
            std::lock_guard lock(pool_mutex);
            if (!pool.empty()) {
                auto cascade = std::move(pool.back());
                pool.pop_back();
                return cascade;
            }
        }
        auto cascade = std::make_unique<cv::CascadeClassifier>();
        std::error_code ec;
        // Checked first: OpenCV would also print its own error for a missing file.
        if (!std::filesystem::is_regular_file(cascade_path(), ec) || !cascade->load(cascade_path()) || cascade->empty())
            return make_error(errc::config_error, "cannot load the face cascade " + cascade_path() +
                                                      " (install opencv-data or set face.cascade_path)");
        return cascade;
    }
    void give_back(std::unique_ptr<cv::CascadeClassifier> cascade) {
        std::lock_guard lock(pool_mutex);
        pool.push_back(std::move(cascade));
    }

    Result<std::vector<cv::Rect>> detect_cascade(const cv::Mat& gray_shown, double to_full) {
        auto cascade = borrow();
        if (!cascade) return cascade.error();
        double scale = 1.0;
        const int longest = std::max(gray_shown.cols, gray_shown.rows);
        if (longest > options.detect_longest_side) scale = static_cast<double>(options.detect_longest_side) / longest;
        cv::Mat gray;
        if (scale < 1.0) cv::resize(gray_shown, gray, cv::Size(), scale, scale, cv::INTER_AREA);
        else gray = gray_shown.clone();
        cv::equalizeHist(gray, gray);
        const double back = to_full / scale;
        const int min_side = std::max(12, static_cast<int>(options.min_face_px / back));
        std::vector<cv::Rect> found;
        (*cascade)->detectMultiScale(gray, found, options.detect_scale_step, 5, 0, cv::Size(min_side, min_side));
        give_back(std::move(*cascade));
        std::vector<cv::Rect> boxes;
        boxes.reserve(found.size());
        for (const auto& r : found)
            boxes.emplace_back(static_cast<int>(r.x * back), static_cast<int>(r.y * back),
                               static_cast<int>(r.width * back), static_cast<int>(r.height * back));
        return boxes;
    }

    Result<const TinyFaceNet*> tiny_net() {
        std::call_once(net_once, [&] {
            if (options.detector_model.empty())
                net.emplace(
                    make_error(errc::config_error, "face.detector_model is not set (face-api's tiny face detector)"));
            else net.emplace(TinyFaceNet::load(options.detector_model));
        });
        if (!*net)
            return make_error(errc::config_error, net->error().message +
                                                      " (run scripts/fetch-models.sh, set face.detector_model, or use"
                                                      " face.detector=cascade)");
        return &**net;
    }

    Result<std::vector<cv::Rect>> detect_tiny(const cv::Mat& bgr_shown, double to_full) {
        auto model = tiny_net();
        if (!model) return model.error();
        const auto detections =
            (*model)->detect(bgr_shown, options.detect_longest_side, static_cast<float>(options.detect_threshold));
        std::vector<cv::Rect> boxes;
        boxes.reserve(detections.size());
        for (const auto& found : detections) {
            const cv::Rect2f& b = found.box;
            boxes.emplace_back(
                static_cast<int>(std::lround(b.x * to_full)), static_cast<int>(std::lround(b.y * to_full)),
                static_cast<int>(std::lround(b.width * to_full)), static_cast<int>(std::lround(b.height * to_full)));
        }
        return boxes;
    }
};

FaceDetector::FaceDetector(const FaceOptions& options) : impl_(std::make_unique<Impl>()) {
    impl_->options = options;
}

FaceDetector::~FaceDetector() = default;

Result<bool> FaceDetector::ready() const {
    if (wants_gray()) {
        auto cascade = impl_->borrow();
        if (!cascade) return cascade.error();
        impl_->give_back(std::move(*cascade));
        return true;
    }
    auto model = impl_->tiny_net();
    if (!model) return model.error();
    return true;
}

bool FaceDetector::wants_gray() const {
    return impl_->options.detector == FaceDetectorKind::cascade;
}

Result<std::vector<cv::Rect>> FaceDetector::detect(const cv::Mat& shown, double to_full) const {
    if (wants_gray()) return impl_->detect_cascade(shown, to_full);
    return impl_->detect_tiny(shown, to_full);
}

}  // namespace seke
