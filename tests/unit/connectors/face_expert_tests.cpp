// The built-in face expert: each network against TensorFlow.js running the packages' own code
// on the same pixels (tests/fixtures/expert, made by make_fixtures.sh), the model loader's
// errors, and FaceExpert::read on faces, non-faces and boxes that are not faces at all.
#include <boost/test/unit_test.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "connectors/dense_face_net.hpp"
#include "connectors/face_expert.hpp"
#include "connectors/face_nets.hpp"
#include "connectors/image.hpp"
#include "connectors/tfjs_model.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) {
    return seke::test::source_path("tests/fixtures/expert/" + name);
}

const nlohmann::json& net_fixtures() {
    static const nlohmann::json fixtures = nlohmann::json::parse(seke::test::read_file(fixture("nets.json")));
    return fixtures;
}

// A fixture PNG as the nets take pixels: float RGB in 0..255.
cv::Mat fixture_rgb(const std::string& name) {
    cv::Mat bgr = cv::imread(fixture(name).string(), cv::IMREAD_COLOR);
    BOOST_TEST_REQUIRE(!bgr.empty(), name);
    cv::Mat rgb, out;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(out, CV_32FC3);
    return out;
}

const tfjs::WeightMap& weights(const std::string& model) {
    static std::map<std::string, tfjs::WeightMap> loaded;
    auto it = loaded.find(model);
    if (it != loaded.end()) return it->second;
    const auto path = fs::path(seke::test::expert_model_paths().face_api_dir) / (model + "-weights_manifest.json");
    auto read = tfjs::read_weights_manifest(path.string(), model);
    BOOST_TEST_REQUIRE(read.ok(), (read.ok() ? "" : read.error().message));
    return loaded[model] = std::move(*read);
}

const tfjs::GraphModel& graph(const std::string& model) {
    static std::map<std::string, tfjs::GraphModel> loaded;
    auto it = loaded.find(model);
    if (it != loaded.end()) return it->second;
    const auto path = fs::path(seke::test::expert_model_paths().human_dir) / (model + ".json");
    auto read = tfjs::read_graph_model(path.string(), model);
    BOOST_TEST_REQUIRE(read.ok(), (read.ok() ? "" : read.error().message));
    return loaded[model] = std::move(*read);
}

std::vector<float> softmax(const std::vector<float>& logits) {
    std::vector<float> p(logits.size());
    const float top = *std::max_element(logits.begin(), logits.end());
    float sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(logits[i] - top);
    for (float& v : p) v /= sum;
    return p;
}

std::vector<float> values_of(const cv::Mat& m) {
    const float* p = m.ptr<float>();
    return std::vector<float>(p, p + m.total());
}

// The largest |a[i] - b[i]| times `scale`.
double worst(const std::vector<float>& got, const nlohmann::json& expected, double scale = 1) {
    BOOST_TEST_REQUIRE(got.size() == expected.size());
    double largest = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
        largest = std::max(largest, std::abs(got[i] - expected[i].get<double>()) * scale);
    return largest;
}

// Checks the largest difference against `limit`, and logs it (--log_level=message shows it).
void check_close(const std::string& label, const std::vector<float>& got, const nlohmann::json& expected, double limit,
                 double scale = 1) {
    const double largest = worst(got, expected, scale);
    BOOST_TEST_MESSAGE(label << ": largest difference " << largest);
    BOOST_TEST(largest < limit, label << ": largest difference " << largest);
}

const std::shared_ptr<const FaceExpert>& expert() {
    static const std::shared_ptr<const FaceExpert> loaded = [] {
        auto e = FaceExpert::load(seke::test::expert_model_paths());
        BOOST_TEST_REQUIRE(e.ok(), (e.ok() ? "" : e.error().message + " (run scripts/fetch-models.sh)"));
        return *e;
    }();
    return loaded;
}

// A fixture's facemesh crop (192 px, the face box enlarged 1.4 times) as a BGR image, and the
// face box inside it.
std::pair<cv::Mat, cv::Rect2f> real_face(const std::string& id) {
    cv::Mat bgr = cv::imread(fixture(id + "_facemesh.png").string(), cv::IMREAD_COLOR);
    BOOST_TEST_REQUIRE(!bgr.empty());
    const float side = static_cast<float>(bgr.cols) / 1.4f;
    return {bgr, cv::Rect2f((static_cast<float>(bgr.cols) - side) / 2, (static_cast<float>(bgr.rows) - side) / 2, side,
                            side)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_face_expert)

BOOST_AUTO_TEST_CASE(face_api_nets_match_tfjs_on_the_fixture_inputs) {
    auto expression = DenseFaceNet::load(weights("face_expression_model"), 7, "expression");
    auto landmarks = DenseFaceNet::load(weights("face_landmark_68_model"), 136, "landmarks");
    BOOST_TEST_REQUIRE(expression.ok());
    BOOST_TEST_REQUIRE(landmarks.ok());
    auto expression_dnn = build_face_api_net(weights("face_expression_model"), 7, true, "expression");
    auto landmarks_dnn = build_face_api_net(weights("face_landmark_68_model"), 136, false, "landmarks");
    BOOST_TEST_REQUIRE(expression_dnn.ok());
    BOOST_TEST_REQUIRE(landmarks_dnn.ok());
    for (const auto& face : net_fixtures()) {
        const std::string id = face["id"];
        const cv::Mat expression_input = face_api_input(fixture_rgb(id + "_expression.png"));
        const cv::Mat landmark_input = face_api_input(fixture_rgb(id + "_landmark68.png"));
        // Probabilities to 1e-4; landmarks to 0.5 px of the 112-px input.
        check_close(id + " expression", softmax(expression->forward(expression_input)), face["expression"], 1e-4);
        check_close(id + " landmarks px", landmarks->forward(landmark_input), face["landmark68"], 0.5, 112);
        expression_dnn->setInput(nchw(expression_input));
        check_close(id + " expression (cv::dnn)", values_of(expression_dnn->forward()), face["expression"], 1e-4);
        landmarks_dnn->setInput(nchw(landmark_input));
        check_close(id + " landmarks px (cv::dnn)", values_of(landmarks_dnn->forward()), face["landmark68"], 0.5, 112);
    }
}

BOOST_AUTO_TEST_CASE(human_nets_match_tfjs_on_the_fixture_inputs) {
    const auto& emotion_graph = graph("emotion");
    const auto& mesh_graph = graph("facemesh");
    BOOST_TEST_REQUIRE(emotion_graph.outputs.size() == 1u);
    auto emotion = build_graph_net(emotion_graph, {emotion_graph.outputs.begin()->second}, "emotion");
    BOOST_TEST_REQUIRE(emotion.ok(), (emotion.ok() ? "" : emotion.error().message));
    auto mesh = build_graph_net(
        mesh_graph, {mesh_graph.outputs.at("output_mesh"), mesh_graph.outputs.at("output_faceflag")}, "facemesh");
    BOOST_TEST_REQUIRE(mesh.ok(), (mesh.ok() ? "" : mesh.error().message));
    BOOST_TEST((mesh->height == 192 && mesh->width == 192 && mesh->channels == 3));
    BOOST_TEST((emotion->height == 64 && emotion->width == 64 && emotion->channels == 1));
    for (const auto& face : net_fixtures()) {
        const std::string id = face["id"];
        emotion->net.setInput(emotion_blob(fixture_rgb(id + "_emotion.png")));
        check_close(id + " emotion", values_of(emotion->net.forward()), face["emotion"], 1e-4);
        std::vector<cv::Mat> out;
        mesh->net.setInput(facemesh_blob(fixture_rgb(id + "_facemesh.png")));
        mesh->net.forward(out, mesh->output_layers);
        BOOST_TEST_REQUIRE(out.size() == 2u);
        check_close(id + " mesh px", values_of(out[0]), face["mesh"], 0.5);  // pixels of the 192-px crop
        check_close(id + " face flag", values_of(out[1]), nlohmann::json::array({face["faceflag"]}), 1e-4);
    }
}

BOOST_AUTO_TEST_CASE(missing_and_broken_model_files_are_clean_errors) {
    seke::test::TempDir dir;
    auto missing = FaceExpert::load({(dir / "face-api").string(), (dir / "human").string()});
    BOOST_TEST_REQUIRE(!missing.ok());
    BOOST_TEST((missing.error().code == errc::not_found));
    BOOST_TEST(missing.error().message.find("scripts/fetch-models.sh") != std::string::npos);

    const fs::path face_api = seke::test::expert_model_paths().face_api_dir;
    const auto manifest =
        nlohmann::json::parse(seke::test::read_file(face_api / "face_expression_model-weights_manifest.json"));
    const std::string bin = seke::test::read_file(face_api / "face_expression_model.bin");
    auto try_files = [&](const nlohmann::json& m, const std::string& shard) {
        seke::test::write_file(dir / "m.json", m.dump());
        if (!shard.empty()) seke::test::write_file(dir / "face_expression_model.bin", shard);
        return tfjs::read_weights_manifest((dir / "m.json").string(), "test model");
    };
    BOOST_TEST(try_files(manifest, bin).ok());

    fs::remove(dir / "face_expression_model.bin");
    auto no_shard = try_files(manifest, "");
    BOOST_TEST_REQUIRE(!no_shard.ok());
    BOOST_TEST((no_shard.error().code == errc::not_found));
    BOOST_TEST(no_shard.error().message.find("scripts/fetch-models.sh") != std::string::npos);

    auto truncated = try_files(manifest, bin.substr(0, bin.size() / 2));
    BOOST_TEST_REQUIRE(!truncated.ok());
    BOOST_TEST((truncated.error().code == errc::config_error));
    BOOST_TEST(truncated.error().message.find("shorter") != std::string::npos);

    auto longer = try_files(manifest, bin + "extra");
    BOOST_TEST_REQUIRE(!longer.ok());
    BOOST_TEST((longer.error().code == errc::config_error));

    nlohmann::json escaping = manifest;
    escaping[0]["paths"][0] = "../face_expression_model.bin";
    BOOST_TEST(!try_files(escaping, bin).ok());

    nlohmann::json absurd = manifest;
    absurd[0]["weights"][0]["shape"] = {4096, 4096, 4096, 4096};
    auto too_big = try_files(absurd, bin);
    BOOST_TEST_REQUIRE(!too_big.ok());
    BOOST_TEST((too_big.error().code == errc::config_error));

    // A file that reads well but is not the net: a kernel of another shape.
    nlohmann::json reshaped = manifest;
    reshaped[0]["weights"][0]["shape"] = {3, 3, 32, 3};
    auto wrong = try_files(reshaped, bin);
    BOOST_TEST_REQUIRE(wrong.ok());
    auto net = DenseFaceNet::load(*wrong, 7, "test model");
    BOOST_TEST_REQUIRE(!net.ok());
    BOOST_TEST((net.error().code == errc::config_error));
    BOOST_TEST(net.error().message.find("dense0/conv0/filters") != std::string::npos);
    BOOST_TEST(!build_face_api_net(*wrong, 7, true, "test model").ok());

    seke::test::write_file(dir / "not.json", "[{\"paths\": ");
    auto not_json = tfjs::read_weights_manifest((dir / "not.json").string(), "test model");
    BOOST_TEST_REQUIRE(!not_json.ok());
    BOOST_TEST((not_json.error().code == errc::config_error));
}

BOOST_AUTO_TEST_CASE(graphs_outside_the_supported_ops_are_refused) {
    tfjs::GraphModel changed = graph("emotion");
    const std::string output = changed.outputs.begin()->second;
    for (auto& node : changed.nodes)
        if (node.op == "Softmax") node.op = "LogSoftmax";
    auto unknown = build_graph_net(changed, {output}, "emotion");
    BOOST_TEST_REQUIRE(!unknown.ok());
    BOOST_TEST((unknown.error().code == errc::config_error));
    BOOST_TEST(unknown.error().message.find("LogSoftmax") != std::string::npos);

    // A node that reads its own output: the walk finds the cycle and stops.
    tfjs::GraphModel cyclic = graph("emotion");
    for (auto& node : cyclic.nodes)
        if (node.op == "Relu") node.inputs = {node.name};
    auto cycle = build_graph_net(cyclic, {output}, "emotion");
    BOOST_TEST_REQUIRE(!cycle.ok());
    BOOST_TEST(cycle.error().message.find("cycle") != std::string::npos);

    auto absent = build_graph_net(graph("emotion"), {"no_such_node"}, "emotion");
    BOOST_TEST(!absent.ok());

    tfjs::GraphModel bad_kernel = graph("emotion");
    for (auto& [name, weight] : bad_kernel.weights)
        if (name.find("conv2d_1/Conv2D_weights") != std::string::npos) weight.shape = {3, 3, 2, 8};
    BOOST_TEST(!build_graph_net(bad_kernel, {output}, "emotion").ok());
}

BOOST_AUTO_TEST_CASE(real_faces_score_as_faces_and_read_like_tfjs) {
    for (const auto& face : net_fixtures()) {
        const std::string id = face["id"];
        auto [bgr, box] = real_face(id);
        auto reading = expert()->read(bgr, box);
        BOOST_TEST_REQUIRE(reading.ok(), (reading.ok() ? "" : reading.error().message));
        BOOST_TEST(reading->face_score >= 0.5, id << ": face score " << reading->face_score);
        BOOST_TEST(reading->landmarks68.size() == 68u);
        BOOST_TEST(reading->mesh.size() == 468u);
        double sum = 0;
        for (double p : reading->face_api_expression) sum += p;
        BOOST_TEST(std::abs(sum - 1) < 1e-6);
        // Every fixture face is one face-api calls happy; the crop here is a little different.
        const auto& p = reading->face_api_expression;
        BOOST_TEST(std::max_element(p.begin(), p.end()) - p.begin() == 1, id);
        for (const auto& point : reading->landmarks68) {
            BOOST_TEST((point.x > box.x - 0.2 * box.width && point.x < box.br().x + 0.2 * box.width), id);
            BOOST_TEST((point.y > box.y - 0.2 * box.height && point.y < box.br().y + 0.2 * box.height), id);
        }
    }
}

BOOST_AUTO_TEST_CASE(synthetic_images_are_not_faces) {
    int images = 0;
    for (const auto& entry : fs::directory_iterator(seke::test::source_path("samples/images"))) {
        cv::Mat bgr = cv::imread(entry.path().string(), cv::IMREAD_COLOR);
        if (bgr.empty()) continue;
        ++images;
        auto reading =
            expert()->read(bgr, cv::Rect2f(0, 0, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows)));
        BOOST_TEST_REQUIRE(reading.ok(), entry.path() << ": " << (reading.ok() ? "" : reading.error().message));
        BOOST_TEST(reading->face_score < 0.5, entry.path().filename() << ": face score " << reading->face_score);
    }
    BOOST_TEST(images >= 20);
}

BOOST_AUTO_TEST_CASE(boxes_that_hold_no_face_are_invalid_arguments) {
    auto [bgr, box] = real_face("face0");
    auto whole = expert()->read(bgr, cv::Rect2f(0, 0, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows)));
    BOOST_TEST(whole.ok());
    auto overhanging = expert()->read(bgr, cv::Rect2f(-50, -50, 400, 400));
    BOOST_TEST(overhanging.ok());
    for (const cv::Rect2f& bad : {cv::Rect2f(10, 10, 3, 3), cv::Rect2f(10, 10, 0, 50), cv::Rect2f(500, 500, 50, 50),
                                  cv::Rect2f(-100, -100, 50, 50), cv::Rect2f(NAN, 0, 50, 50)}) {
        auto reading = expert()->read(bgr, bad);
        BOOST_TEST_REQUIRE(!reading.ok(), bad);
        BOOST_TEST((reading.error().code == errc::invalid_argument));
    }
    auto empty = expert()->read(cv::Mat(), box);
    BOOST_TEST_REQUIRE(!empty.ok());
    BOOST_TEST((empty.error().code == errc::invalid_argument));
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    BOOST_TEST(!expert()->read(gray, box).ok());
}

BOOST_AUTO_TEST_CASE(concurrent_reads_agree_with_a_single_one) {
    // Plain names, not a structured binding: clang 14 cannot capture those in the lambda below.
    const auto face = real_face("face1");
    const auto& bgr = face.first;
    const auto& box = face.second;
    auto single = expert()->read(bgr, box);
    BOOST_TEST_REQUIRE(single.ok());
    constexpr int kThreads = 4, kReads = 3;
    std::vector<std::vector<ExpertReading>> readings(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int r = 0; r < kReads; ++r) {
                auto reading = expert()->read(bgr, box);
                if (reading) readings[t].push_back(*reading);
            }
        });
    for (auto& thread : threads) thread.join();
    for (const auto& per_thread : readings) {
        BOOST_TEST_REQUIRE(per_thread.size() == static_cast<std::size_t>(kReads));
        for (const auto& reading : per_thread) {
            BOOST_TEST(reading.face_score == single->face_score);
            BOOST_TEST(reading.human_emotion == single->human_emotion);
            BOOST_TEST(reading.face_api_expression == single->face_api_expression);
            BOOST_TEST(reading.mesh[10].x == single->mesh[10].x);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_face_preparer_attaches_a_reading_per_face) {
    auto [bgr, box] = real_face("face2");
    std::vector<uchar> png;
    BOOST_TEST_REQUIRE(cv::imencode(".png", bgr, png));
    const std::string bytes(png.begin(), png.end());
    FaceOptions options;
    options.mode = FaceMode::off;
    auto without = FacePreparer(options, ImageLimits{}).prepare(bytes);
    BOOST_TEST_REQUIRE(without.ok());
    BOOST_TEST(!without->faces.front().expert.has_value());

    options.expert = expert();
    FacePreparer preparer(options, ImageLimits{});
    auto whole = preparer.prepare(bytes);
    BOOST_TEST_REQUIRE(whole.ok());
    BOOST_TEST_REQUIRE(whole->faces.front().expert.has_value());
    BOOST_TEST(whole->faces.front().expert->face_score >= 0.5);

    // A given region: the points come back in the image's pixels, around the region.
    const double w = bgr.cols, h = bgr.rows;
    const RegionFraction region{box.x / w, box.y / h, box.width / w, box.height / h};
    auto regions = preparer.prepare_regions(bytes, {region});
    BOOST_TEST_REQUIRE(regions.ok());
    BOOST_TEST_REQUIRE(regions->faces.front().expert.has_value());
    BOOST_TEST(regions->faces.front().expert->face_score >= 0.5);
    for (const auto& point : regions->faces.front().expert->landmarks68) {
        BOOST_TEST((point.x > box.x - 0.2 * box.width && point.x < box.br().x + 0.2 * box.width));
        BOOST_TEST((point.y > box.y - 0.2 * box.height && point.y < box.br().y + 0.2 * box.height));
    }

    // A region too small to read is prepared all the same, without a reading.
    auto tiny = preparer.prepare_regions(bytes, {{0.5, 0.5, 0.02, 0.02}});
    BOOST_TEST_REQUIRE(tiny.ok());
    BOOST_TEST(!tiny->faces.front().expert.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
