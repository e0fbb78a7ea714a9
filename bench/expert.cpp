// Benchmark 9 — the built-in face expert on one core: thread CPU time (and wall time) per face,
// per network and for the whole FaceExpert::read(), on the real demo faces. face-api's two nets
// run both ways, on seke's own kernels (DenseFaceNet, what FaceExpert uses) and in cv::dnn.
// Prints one JSON line per measurement: median, p90, runs.
// Usage: seke-bench-expert [--runs N] FIXTURE_DIR PHOTO_DIR
//   FIXTURE_DIR: tests/fixtures/expert (the nets' input PNGs, pipeline.json's face boxes)
//   PHOTO_DIR:   face-api's demo/ (sample1..6.jpg)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "connectors/dense_face_net.hpp"
#include "connectors/face_expert.hpp"
#include "connectors/face_nets.hpp"
#include "connectors/tfjs_model.hpp"

namespace {

double thread_cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double wall_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `work(i)` for i = 0 .. runs-1 (after a few warm-up calls) and prints the figures.
void measure(const std::string& what, const std::string& implementation, int runs,
             const std::function<void(int)>& work) {
    for (int i = 0; i < 3; ++i) work(i);
    std::vector<double> cpu, wall;
    for (int i = 0; i < runs; ++i) {
        const double c = thread_cpu_ms(), w = wall_ms();
        work(i);
        cpu.push_back(thread_cpu_ms() - c);
        wall.push_back(wall_ms() - w);
    }
    std::sort(cpu.begin(), cpu.end());
    std::sort(wall.begin(), wall.end());
    const nlohmann::json out = {{"bench", "expert"},
                                {"what", what},
                                {"implementation", implementation},
                                {"runs", runs},
                                {"median_cpu_ms", cpu[cpu.size() / 2]},
                                {"p90_cpu_ms", cpu[cpu.size() * 9 / 10]},
                                {"median_wall_ms", wall[wall.size() / 2]}};
    std::printf("%s\n", out.dump().c_str());
    std::fflush(stdout);
}

cv::Mat rgb_float(const std::string& path) {
    cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR), rgb, out;
    if (bgr.empty()) throw std::runtime_error("cannot read " + path);
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(out, CV_32FC3);
    return out;
}

template <class T>
T need(seke::Result<T> result) {
    if (!result) throw std::runtime_error(result.error().message);
    return std::move(*result);
}

}  // namespace

int main(int argc, char** argv) try {
    int runs = 100;
    std::vector<std::string> dirs;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--runs" && i + 1 < argc) runs = std::max(1, std::stoi(argv[++i]));
        else dirs.push_back(arg);
    }
    if (dirs.size() != 2) {
        std::fprintf(stderr, "usage: seke-bench-expert [--runs N] FIXTURE_DIR PHOTO_DIR\n");
        return 2;
    }
    const std::string fixtures = dirs[0], photos = dirs[1];
    const std::string face_api = SEKE_SOURCE_DATA_DIR "/models/face-api", human = SEKE_SOURCE_DATA_DIR "/models/human";
    cv::setNumThreads(1);  // one core

    // The nets' inputs: the fixture faces' exact input pixels.
    std::vector<cv::Mat> expression_in, landmark_in, emotion_in, mesh_in;
    for (int f = 0; f < 3; ++f) {
        const std::string id = fixtures + "/face" + std::to_string(f);
        expression_in.push_back(seke::face_api_input(rgb_float(id + "_expression.png")));
        landmark_in.push_back(seke::face_api_input(rgb_float(id + "_landmark68.png")));
        emotion_in.push_back(seke::emotion_blob(rgb_float(id + "_emotion.png")));
        mesh_in.push_back(seke::facemesh_blob(rgb_float(id + "_facemesh.png")));
    }
    const auto expression_weights = need(
        seke::tfjs::read_weights_manifest(face_api + "/face_expression_model-weights_manifest.json", "expression"));
    const auto landmark_weights = need(
        seke::tfjs::read_weights_manifest(face_api + "/face_landmark_68_model-weights_manifest.json", "landmarks"));
    const auto expression = need(seke::DenseFaceNet::load(expression_weights, 7, "expression"));
    const auto landmarks = need(seke::DenseFaceNet::load(landmark_weights, 136, "landmarks"));
    auto expression_dnn = need(seke::build_face_api_net(expression_weights, 7, true, "expression"));
    auto landmarks_dnn = need(seke::build_face_api_net(landmark_weights, 136, false, "landmarks"));
    const auto emotion_graph = need(seke::tfjs::read_graph_model(human + "/emotion.json", "emotion"));
    const auto mesh_graph = need(seke::tfjs::read_graph_model(human + "/facemesh.json", "facemesh"));
    auto emotion = need(seke::build_graph_net(emotion_graph, {emotion_graph.outputs.begin()->second}, "emotion"));
    auto mesh = need(seke::build_graph_net(
        mesh_graph, {mesh_graph.outputs.at("output_mesh"), mesh_graph.outputs.at("output_faceflag")}, "facemesh"));

    // Both implementations of face-api's nets, one after the other in one run.
    measure("face-api expression", "seke kernels", runs, [&](int i) { expression.forward(expression_in[i % 3]); });
    measure("face-api expression", "cv::dnn", runs, [&](int i) {
        expression_dnn.setInput(seke::nchw(expression_in[i % 3]));
        expression_dnn.forward();
    });
    measure("face-api landmark68", "seke kernels", runs, [&](int i) { landmarks.forward(landmark_in[i % 3]); });
    measure("face-api landmark68", "cv::dnn", runs, [&](int i) {
        landmarks_dnn.setInput(seke::nchw(landmark_in[i % 3]));
        landmarks_dnn.forward();
    });
    measure("human emotion", "cv::dnn", runs, [&](int i) {
        emotion.net.setInput(emotion_in[i % 3]);
        emotion.net.forward(emotion.output_layers.front());
    });
    std::vector<cv::Mat> mesh_out;
    measure("human facemesh", "cv::dnn", runs, [&](int i) {
        mesh.net.setInput(mesh_in[i % 3]);
        mesh.net.forward(mesh_out, mesh.output_layers);
    });

    // The whole read(), crops included, on every face face-api's pipeline found in the photos.
    const auto expert = need(seke::FaceExpert::load({face_api, human}));
    const auto reference = nlohmann::json::parse(std::ifstream(fixtures + "/pipeline.json"));
    std::map<std::string, cv::Mat> images;
    std::vector<std::pair<const cv::Mat*, cv::Rect2f>> faces;
    for (const auto& face : reference) {
        const std::string photo = face["photo"];
        if (!images.count(photo)) images[photo] = cv::imread(photos + "/" + photo, cv::IMREAD_COLOR);
        if (images[photo].empty()) throw std::runtime_error("cannot read " + photos + "/" + photo);
        faces.emplace_back(&images[photo], cv::Rect2f(face["box"][0], face["box"][1], face["box"][2], face["box"][3]));
    }
    measure("FaceExpert::read (all four nets and the crops)", "seke kernels + cv::dnn", runs, [&](int i) {
        const auto& [image, box] = faces[static_cast<std::size_t>(i) % faces.size()];
        need(expert->read(*image, box));
    });
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "seke-bench-expert: %s\n", e.what());
    return 1;
}
