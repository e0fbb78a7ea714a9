// Benchmark 3 — the image path on one core: decode a 1920x1080 JPEG, detect faces, crop,
// resize and JPEG-encode (FacePreparer::prepare). Prints median and p90 in milliseconds.
// Usage: seke-bench-image [--runs N] [--detector tiny|cascade] [--model MANIFEST] [--cascade XML]
//        [--detect-size PX] [--detect-step S] [--boxes DIR] IMAGE...
// (each image is first re-encoded at 1920x1080; --boxes writes each with its face boxes drawn, as PNG)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "connectors/image.hpp"

int main(int argc, char** argv) {
    int runs = 50;
    std::vector<std::string> paths;
    seke::FaceOptions options;
    options.detector_model = SEKE_SOURCE_DATA_DIR "/models/face-api/tiny_face_detector_model-weights_manifest.json";
    std::string boxes_dir;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--runs" && i + 1 < argc) runs = std::stoi(argv[++i]);
        else if (arg == "--detector" && i + 1 < argc)
            options.detector =
                std::string(argv[++i]) == "cascade" ? seke::FaceDetectorKind::cascade : seke::FaceDetectorKind::tiny;
        else if (arg == "--model" && i + 1 < argc) options.detector_model = argv[++i];
        else if (arg == "--boxes" && i + 1 < argc) boxes_dir = argv[++i];
        else if (arg == "--cascade" && i + 1 < argc) options.cascade_path = argv[++i];
        else if (arg == "--detect-size" && i + 1 < argc) options.detect_longest_side = std::stoi(argv[++i]);
        else if (arg == "--detect-step" && i + 1 < argc) options.detect_scale_step = std::stod(argv[++i]);
        else paths.push_back(arg);
    }
    if (paths.empty()) {
        std::fprintf(stderr, "usage: seke-bench-image [--runs N] IMAGE...\n");
        return 2;
    }
    std::vector<std::string> encoded;
    for (const auto& path : paths) {
        cv::Mat image = cv::imread(path);
        if (image.empty()) {
            std::fprintf(stderr, "cannot read %s\n", path.c_str());
            return 1;
        }
        cv::Mat resized;
        cv::resize(image, resized, cv::Size(1920, 1080), 0, 0, cv::INTER_AREA);
        std::vector<unsigned char> bytes;
        cv::imencode(".jpg", resized, bytes, {cv::IMWRITE_JPEG_QUALITY, 92});
        encoded.emplace_back(bytes.begin(), bytes.end());
    }
    cv::setNumThreads(1);  // one core, as the target says
    seke::FacePreparer preparer(options, seke::ImageLimits{});
    if (auto ready = preparer.ready(); !ready) {
        std::fprintf(stderr, "%s\n", ready.error().message.c_str());
        return 1;
    }
    std::vector<double> ms;
    std::size_t faces = 0;
    for (int r = 0; r < runs; ++r) {
        for (const auto& bytes : encoded) {
            auto start = std::chrono::steady_clock::now();
            auto prepared = preparer.prepare(bytes);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
            if (!prepared || r != 0) continue;
            for (const auto& face : prepared->faces) faces += face.box ? 1 : 0;
            if (boxes_dir.empty()) continue;
            cv::Mat drawn = cv::imdecode(std::vector<unsigned char>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
            for (const auto& face : prepared->faces)
                if (face.box)
                    cv::rectangle(drawn, cv::Rect(face.box->x, face.box->y, face.box->w, face.box->h), {0, 255, 0}, 4);
            cv::Mat small;
            cv::resize(drawn, small, cv::Size(960, 540), 0, 0, cv::INTER_AREA);
            cv::imwrite(boxes_dir + "/image" + std::to_string(&bytes - encoded.data() + 1) + ".png", small);
        }
    }
    std::sort(ms.begin(), ms.end());
    nlohmann::json out = {{"images", encoded.size()},         {"runs", runs},
                          {"faces_found_first_run", faces},   {"median_ms", ms[ms.size() / 2]},
                          {"p90_ms", ms[ms.size() * 9 / 10]}, {"max_ms", ms.back()}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}
