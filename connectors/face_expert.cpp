#include "connectors/face_expert.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connectors/dense_face_net.hpp"
#include "connectors/face_nets.hpp"
#include "connectors/tfjs_model.hpp"

namespace seke {
namespace {

constexpr int kMinFaceSide = 8;  // pixels: a smaller box holds no face a 112-px net can read
constexpr int kMeshSide = 192, kEmotionSide = 64;
constexpr double kMeshBoxScale = 1.4;    // Human's detector.scale: the mesh sees the box enlarged
constexpr double kAlignedPadding = 0.2;  // face-api's alignedRect: 0.1 of the size on each side
constexpr int kLandmarks = 68, kMeshPoints = 468;
constexpr std::size_t kMaxNetSets = 16;  // Human's nets, one set per concurrently calling thread

// A float RGB pixel of `bgr`.
cv::Vec3f rgb_at(const cv::Mat& bgr, int x, int y) {
    const cv::Vec3b& p = bgr.at<cv::Vec3b>(y, x);
    return {static_cast<float>(p[2]), static_cast<float>(p[1]), static_cast<float>(p[0])};
}

// face-api's crop of a box: Box.clipAtImageBorders (clipped to the image, then floored).
cv::Rect clip_and_floor(const cv::Rect2d& box, cv::Size image) {
    const double x = std::max(box.x, 0.0), y = std::max(box.y, 0.0);
    const double width = std::min(box.x + box.width - x, image.width - x);
    const double height = std::min(box.y + box.height - y, image.height - y);
    return {static_cast<int>(std::floor(x)), static_cast<int>(std::floor(y)), static_cast<int>(std::floor(width)),
            static_cast<int>(std::floor(height))};
}

// face-api's net input for `crop`: padToSquare (centred with zeros: the end gets round(d/2),
// the start the rest), then tf.image.resizeBilinear to 112 (no corner alignment, no half-pixel
// centres). RGB floats in 0..255.
struct SquareInput {
    cv::Mat rgb;
    cv::Rect crop;
};
SquareInput face_api_square(const cv::Mat& bgr, const cv::Rect& crop) {
    const int side = std::max(crop.width, crop.height);
    const int diff = side - std::min(crop.width, crop.height);
    const int before = diff - (diff + 1) / 2;
    const int left = crop.width < crop.height ? before : 0, top = crop.height < crop.width ? before : 0;
    auto value = [&](int px, int py) {
        const int x = px - left, y = py - top;
        if (x < 0 || y < 0 || x >= crop.width || y >= crop.height) return cv::Vec3f();
        return rgb_at(bgr, crop.x + x, crop.y + y);
    };
    const int n = DenseFaceNet::kInputSide;
    const double ratio = static_cast<double>(side) / n;
    cv::Mat out(n, n, CV_32FC3);
    for (int r = 0; r < n; ++r) {
        const double sy = ratio * r;
        const int y0 = static_cast<int>(sy), y1 = std::min(side - 1, static_cast<int>(std::ceil(sy)));
        const float fy = static_cast<float>(sy - y0);
        for (int c = 0; c < n; ++c) {
            const double sx = ratio * c;
            const int x0 = static_cast<int>(sx), x1 = std::min(side - 1, static_cast<int>(std::ceil(sx)));
            const float fx = static_cast<float>(sx - x0);
            const cv::Vec3f t = value(x0, y0) + (value(x1, y0) - value(x0, y0)) * fx;
            const cv::Vec3f b = value(x0, y1) + (value(x1, y1) - value(x0, y1)) * fx;
            out.at<cv::Vec3f>(r, c) = t + (b - t) * fy;
        }
    }
    return {out, crop};
}

// face-api's landmark postprocessing: (v * 112 - pad) / scaled side, per axis, in crop pixels.
std::vector<Point3> landmarks_in_image(const std::vector<float>& raw, const cv::Rect& crop) {
    const double scale = static_cast<double>(DenseFaceNet::kInputSide) / std::max(crop.width, crop.height);
    const double width = crop.width * scale, height = crop.height * scale;
    const double pad_x = width < height ? (height - width) / 2 : 0, pad_y = height < width ? (width - height) / 2 : 0;
    std::vector<Point3> points(kLandmarks);
    for (std::size_t i = 0; i < points.size(); ++i) {
        const double rx = (raw[2 * i] * DenseFaceNet::kInputSide - pad_x) / width;
        const double ry = (raw[2 * i + 1] * DenseFaceNet::kInputSide - pad_y) / height;
        // face-api shifts by the detection box's corner; the crop's (floored) corner is where the
        // pixels came from, at most a pixel away.
        points[i] = {crop.x + rx * crop.width, crop.y + ry * crop.height, 0};
    }
    return points;
}

// face-api's alignedRect: the landmarks' bounding box, padded by 0.1 of its size on each side.
cv::Rect2d aligned_rect(const std::vector<Point3>& points) {
    double x0 = points[0].x, y0 = points[0].y, x1 = x0, y1 = y0;
    for (const auto& p : points) {
        x0 = std::min(x0, p.x), y0 = std::min(y0, p.y);
        x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
    }
    const double w = x1 - x0, h = y1 - y0;
    return {x0 - w * kAlignedPadding / 2, y0 - h * kAlignedPadding / 2, w * (1 + kAlignedPadding),
            h * (1 + kAlignedPadding)};
}

// Human's facemesh box: the face box enlarged 1.4 times about its centre, squared and rounded
// (facemeshutil.enlargeBox, squarifyBox).
struct MeshBox {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};
MeshBox mesh_box(const cv::Rect2f& face) {
    const double cx = face.x + face.width / 2.0, cy = face.y + face.height / 2.0;
    const double half = std::max(face.width, face.height) * kMeshBoxScale / 2;
    return {std::round(cx - half), std::round(cy - half), std::round(cx + half), std::round(cy + half)};
}

// tf.image.cropAndResize of `box` (normalised by the image size, as cutAndResize does) to
// side x side, bilinear, zero outside the image. RGB floats in 0..255.
cv::Mat crop_and_resize(const cv::Mat& bgr, const MeshBox& box, int side) {
    const double h = bgr.rows, w = bgr.cols;
    const double y1 = box.y0 / h, x1 = box.x0 / w, y2 = box.y1 / h, x2 = box.x1 / w;
    const double height_scale = (y2 - y1) * (h - 1) / (side - 1), width_scale = (x2 - x1) * (w - 1) / (side - 1);
    cv::Mat out(side, side, CV_32FC3, cv::Scalar::all(0));
    for (int r = 0; r < side; ++r) {
        const double sy = y1 * (h - 1) + r * height_scale;
        if (sy < 0 || sy > h - 1) continue;
        const int top = static_cast<int>(std::floor(sy)), bottom = static_cast<int>(std::ceil(sy));
        const float fy = static_cast<float>(sy - top);
        for (int c = 0; c < side; ++c) {
            const double sx = x1 * (w - 1) + c * width_scale;
            if (sx < 0 || sx > w - 1) continue;
            const int left = static_cast<int>(std::floor(sx)), right = static_cast<int>(std::ceil(sx));
            const float fx = static_cast<float>(sx - left);
            const cv::Vec3f t = rgb_at(bgr, left, top) + (rgb_at(bgr, right, top) - rgb_at(bgr, left, top)) * fx;
            const cv::Vec3f b =
                rgb_at(bgr, left, bottom) + (rgb_at(bgr, right, bottom) - rgb_at(bgr, left, bottom)) * fx;
            out.at<cv::Vec3f>(r, c) = t + (b - t) * fy;
        }
    }
    return out;
}

// tf.image.resizeBilinear (no corner alignment, no half-pixel centres) of a float image.
cv::Mat resize_like_tfjs(const cv::Mat& rgb, int side) {
    cv::Mat out(side, side, CV_32FC3);
    const double ry = static_cast<double>(rgb.rows) / side, rx = static_cast<double>(rgb.cols) / side;
    for (int r = 0; r < side; ++r) {
        const double sy = ry * r;
        const int y0 = static_cast<int>(sy), y1 = std::min(rgb.rows - 1, static_cast<int>(std::ceil(sy)));
        const float fy = static_cast<float>(sy - y0);
        for (int c = 0; c < side; ++c) {
            const double sx = rx * c;
            const int x0 = static_cast<int>(sx), x1 = std::min(rgb.cols - 1, static_cast<int>(std::ceil(sx)));
            const float fx = static_cast<float>(sx - x0);
            const auto& a = rgb.at<cv::Vec3f>(y0, x0);
            const auto& b = rgb.at<cv::Vec3f>(y0, x1);
            const auto& d = rgb.at<cv::Vec3f>(y1, x0);
            const auto& e = rgb.at<cv::Vec3f>(y1, x1);
            const cv::Vec3f t = a + (b - a) * fx, u = d + (e - d) * fx;
            out.at<cv::Vec3f>(r, c) = t + (u - t) * fy;
        }
    }
    return out;
}

std::array<double, 7> softmax7(const std::vector<float>& logits) {
    std::array<double, 7> p{};
    const double top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(logits[i] - top);
    for (double& v : p) v /= sum;
    return p;
}

// Human's nets in cv::dnn, one set per thread that holds it.
struct HumanNets {
    GraphNet emotion, mesh;
};

}  // namespace

struct FaceExpert::Impl {
    std::optional<DenseFaceNet> expression, landmarks;
    tfjs::GraphModel emotion_graph, mesh_graph;
    std::vector<std::string> emotion_outputs, mesh_outputs;  // node names: emotion; mesh, face flag

    std::mutex mutex;
    std::condition_variable returned;
    std::vector<std::unique_ptr<HumanNets>> idle;
    std::size_t created = 0;
    std::size_t max_sets = 1;

    Result<std::unique_ptr<HumanNets>> build() const {
        auto emotion = build_graph_net(emotion_graph, emotion_outputs, "emotion model");
        if (!emotion) return emotion.error();
        auto mesh = build_graph_net(mesh_graph, mesh_outputs, "facemesh model");
        if (!mesh) return mesh.error();
        auto nets = std::make_unique<HumanNets>();
        nets->emotion = std::move(*emotion);
        nets->mesh = std::move(*mesh);
        return nets;
    }

    // A set no other thread is using: an idle one, a new one while under the bound, or the next
    // one given back.
    Result<std::unique_ptr<HumanNets>> borrow() {
        std::unique_lock lock(mutex);
        returned.wait(lock, [&] { return !idle.empty() || created < max_sets; });
        if (!idle.empty()) {
            auto nets = std::move(idle.back());
            idle.pop_back();
            return nets;
        }
        ++created;
        lock.unlock();
        auto nets = build();
        if (!nets) {
            std::lock_guard relock(mutex);
            --created;
            returned.notify_one();
        }
        return nets;
    }
    void give_back(std::unique_ptr<HumanNets> nets) {
        {
            std::lock_guard lock(mutex);
            idle.push_back(std::move(nets));
        }
        returned.notify_one();
    }

    // A borrowed set, given back however the reading ends.
    class Lease {
      public:
        Lease(Impl& impl, std::unique_ptr<HumanNets> nets) : impl_(impl), nets_(std::move(nets)) {}
        ~Lease() { impl_.give_back(std::move(nets_)); }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        HumanNets& operator*() const { return *nets_; }

      private:
        Impl& impl_;
        std::unique_ptr<HumanNets> nets_;
    };
};

FaceExpert::FaceExpert() : impl_(std::make_unique<Impl>()) {}
FaceExpert::~FaceExpert() = default;

Result<std::shared_ptr<const FaceExpert>> FaceExpert::load(const ExpertModelPaths& paths) {
    namespace fs = std::filesystem;
    const fs::path face_api = paths.face_api_dir, human = paths.human_dir;
    auto expression_weights = tfjs::read_weights_manifest(
        (face_api / "face_expression_model-weights_manifest.json").string(), "face expression model");
    if (!expression_weights) return expression_weights.error();
    auto landmark_weights = tfjs::read_weights_manifest(
        (face_api / "face_landmark_68_model-weights_manifest.json").string(), "face landmark model");
    if (!landmark_weights) return landmark_weights.error();
    auto emotion = tfjs::read_graph_model((human / "emotion.json").string(), "emotion model");
    if (!emotion) return emotion.error();
    auto mesh = tfjs::read_graph_model((human / "facemesh.json").string(), "facemesh model");
    if (!mesh) return mesh.error();

    std::shared_ptr<FaceExpert> expert(new FaceExpert());
    Impl& impl = *expert->impl_;
    auto expression = DenseFaceNet::load(*expression_weights, 7, "face expression model");
    if (!expression) return expression.error();
    auto landmarks = DenseFaceNet::load(*landmark_weights, 2 * kLandmarks, "face landmark model");
    if (!landmarks) return landmarks.error();
    impl.expression.emplace(std::move(*expression));
    impl.landmarks.emplace(std::move(*landmarks));

    if (emotion->outputs.size() != 1)
        return make_error(errc::config_error,
                          "emotion model: expected one output, found " + std::to_string(emotion->outputs.size()));
    impl.emotion_outputs = {emotion->outputs.begin()->second};
    if (!mesh->outputs.count("output_mesh") || !mesh->outputs.count("output_faceflag"))
        return make_error(errc::config_error, "facemesh model: no output_mesh and output_faceflag outputs");
    impl.mesh_outputs = {mesh->outputs.at("output_mesh"), mesh->outputs.at("output_faceflag")};
    impl.emotion_graph = std::move(*emotion);
    impl.mesh_graph = std::move(*mesh);

    // One set now, which checks the graphs and their inputs; more when threads ask at once.
    auto first = impl.build();
    if (!first) return first.error();
    const auto& e = (*first)->emotion;
    const auto& m = (*first)->mesh;
    if (e.height != kEmotionSide || e.width != kEmotionSide || e.channels != 1)
        return make_error(errc::config_error, "emotion model: expected a 64x64 grey input");
    if (m.height != kMeshSide || m.width != kMeshSide || m.channels != 3)
        return make_error(errc::config_error, "facemesh model: expected a 192x192 RGB input");
    impl.created = 1;
    impl.max_sets = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, kMaxNetSets);
    impl.idle.push_back(std::move(*first));
    return std::shared_ptr<const FaceExpert>(std::move(expert));
}

Result<ExpertReading> FaceExpert::read(const cv::Mat& bgr, const cv::Rect2f& face_box) const {
    if (bgr.empty() || bgr.type() != CV_8UC3)
        return make_error(errc::invalid_argument, "the face expert needs a non-empty 8-bit BGR image");
    if (!std::isfinite(face_box.x) || !std::isfinite(face_box.y) || !std::isfinite(face_box.width) ||
        !std::isfinite(face_box.height))
        return make_error(errc::invalid_argument, "the face box is not finite");
    const cv::Rect crop = clip_and_floor(face_box, bgr.size());
    if (crop.width < kMinFaceSide || crop.height < kMinFaceSide)
        return make_error(errc::invalid_argument, "the face box is empty or smaller than " +
                                                      std::to_string(kMinFaceSide) + " pixels inside the image");
    ExpertReading reading;
    try {
        // face-api: landmarks on the face box, then expressions on the box the landmarks align.
        const SquareInput landmark_input = face_api_square(bgr, crop);
        reading.landmarks68 = landmarks_in_image(impl_->landmarks->forward(face_api_input(landmark_input.rgb)), crop);
        const cv::Rect aligned = clip_and_floor(aligned_rect(reading.landmarks68), bgr.size());
        // Landmarks far outside the image can leave no aligned box: the face box stands in.
        const cv::Rect expression_crop =
            aligned.width >= kMinFaceSide && aligned.height >= kMinFaceSide ? aligned : crop;
        reading.face_api_expression =
            softmax7(impl_->expression->forward(face_api_input(face_api_square(bgr, expression_crop).rgb)));

        // Human: facemesh on the enlarged square box; the emotion net on the same crop at 64.
        const MeshBox box = mesh_box(face_box);
        const cv::Mat mesh_crop = crop_and_resize(bgr, box, kMeshSide);
        auto borrowed = impl_->borrow();
        if (!borrowed) return borrowed.error();
        std::vector<cv::Mat> mesh_out;
        cv::Mat emotion;
        {
            const Impl::Lease lease(*impl_, std::move(*borrowed));
            HumanNets& nets = *lease;
            nets.mesh.net.setInput(facemesh_blob(mesh_crop));
            nets.mesh.net.forward(mesh_out, nets.mesh.output_layers);
            nets.emotion.net.setInput(emotion_blob(resize_like_tfjs(mesh_crop, kEmotionSide)));
            emotion = nets.emotion.net.forward(nets.emotion.output_layers.front()).clone();
            for (auto& m : mesh_out) m = m.clone();  // the net's buffers are reused by the next caller
        }

        if (emotion.total() != reading.human_emotion.size() || mesh_out.size() != 2 ||
            mesh_out[0].total() != std::size_t{3} * kMeshPoints || mesh_out[1].total() != 1)
            return make_error(errc::internal, "the face expert's nets gave outputs of unexpected sizes");
        for (std::size_t i = 0; i < reading.human_emotion.size(); ++i)
            reading.human_emotion[i] = emotion.ptr<float>()[i];
        // Human's transformRawCoords without rotation: 192-px crop pixels back to the image.
        const double size = box.x1 - box.x0, cx = box.x0 + size / 2, cy = box.y0 + size / 2;
        const double to_image = size / kMeshSide;
        const float* raw = mesh_out[0].ptr<float>();
        reading.mesh.resize(kMeshPoints);
        for (std::size_t i = 0; i < reading.mesh.size(); ++i)
            reading.mesh[i] = {cx + (raw[3 * i] - kMeshSide / 2.0) * to_image,
                               cy + (raw[3 * i + 1] - kMeshSide / 2.0) * to_image, raw[3 * i + 2] * to_image};
        reading.face_score = std::clamp(static_cast<double>(mesh_out[1].ptr<float>()[0]), 0.0, 1.0);
    } catch (const cv::Exception& e) {
        return make_error(errc::internal, std::string("the face expert's nets failed: ") + e.what());
    }
    return reading;
}

}  // namespace seke
