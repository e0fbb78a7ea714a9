// `seke serve` standing in for the Nuclio dashboard CVAT calls (protocol notes §1, §2.3): the
// real binary on 127.0.0.1, the fake VLLM in process, requests shaped like CVAT's gateway sends
// them, and every answer put through CVAT's own acceptance rules.
#include <boost/test/unit_test.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "connectors/crypto.hpp"
#include "plugin/cvat/spec.hpp"
#include "tests/integration/serve_fixture.hpp"
#include "tests/support/cvat_rules.hpp"

using namespace seke;
using nlohmann::json;
using test::parse;

namespace {

const std::vector<std::string> kGatewayHeaders = {
    "Content-Type: application/json",   "x-nuclio-project-name: cvat",   "x-nuclio-function-namespace: nuclio",
    "x-nuclio-invoke-via: domain-name", "X-Nuclio-Invoke-Timeout: 120s", "x-nuclio-path: /"};

struct CvatFixture : test::ServeFixture {
    std::vector<std::string> invoke_headers(const std::string& function = "seke-face-emotion") const {
        auto headers = kGatewayHeaders;
        if (!function.empty()) headers.push_back("x-nuclio-function-name: " + function);
        return headers;
    }
    test::HttpResult invoke(const json& body, const std::string& function = "seke-face-emotion") {
        return test::http_request("POST", base + "/api/function_invocations", body.dump(), invoke_headers(function),
                                  120000);
    }
    test::HttpResult invoke_direct(const std::string& raw) {
        return test::http_request("POST", base + "/", raw, {"Content-Type: application/json"}, 120000);
    }
    std::string image_base64(const std::string& name) const {
        return base64_encode(test::read_file(data() / "images" / name));
    }
    double metric(const std::string& series) {
        std::string text = get("/metrics").body;
        auto at = text.find(series + " ");
        return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 1));
    }
};

// The project labels a CVAT user creates from `seke cvat spec --labels`, with server ids.
json task_labels(const cvat::FunctionSpec& spec) {
    json labels = cvat::project_labels_json(spec);
    long long id = 7, spec_id = 100;
    for (auto& label : labels) {
        label["id"] = id++;
        for (auto& a : label["attributes"]) a["id"] = spec_id++;
    }
    return labels;
}

std::string first_problem(const std::vector<std::string>& problems) {
    return problems.empty() ? "" : problems.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_cvat_function)

BOOST_AUTO_TEST_CASE(cvat_lists_the_function_with_every_key_it_reads) {
    CvatFixture f;
    f.make_data(1);
    f.start_fake();
    f.start_serve();
    auto list = f.get("/api/functions", kGatewayHeaders);
    BOOST_TEST_REQUIRE(list.status == 200);
    json functions = parse(list);
    BOOST_TEST_REQUIRE(functions.is_object());  // CVAT iterates .values()
    BOOST_TEST_REQUIRE(functions.contains("seke-face-emotion"));
    const json& function = functions["seke-face-emotion"];
    auto problems = test::cvat_function_problems(function);
    BOOST_TEST(problems.empty(), first_problem(problems));
    BOOST_TEST(function["metadata"]["annotations"]["name"] == "seke face emotion");
    BOOST_TEST(f.base == "http://127.0.0.1:" + std::to_string(function["status"]["httpPort"].get<int>()));

    auto one = f.get("/api/functions/seke-face-emotion", kGatewayHeaders);
    BOOST_TEST(one.status == 200);
    BOOST_TEST(parse(one) == function);
    auto unknown = f.get("/api/functions/openvino-face-detection", kGatewayHeaders);
    BOOST_TEST(unknown.status == 404);
    BOOST_TEST(parse(unknown)["error"]["code"] == "not_found");
}

BOOST_AUTO_TEST_CASE(detector_answers_survive_cvats_filters_and_are_paid_for_once) {
    CvatFixture f;
    f.make_data(3);
    f.start_fake();
    f.start_serve({"--cvat-frame-tag", "frame_emotion"});
    CvatSettings settings;
    settings.frame_tag_label = "frame_emotion";
    auto spec = cvat::make_function_spec(settings, test::test_knowledge());
    BOOST_TEST_REQUIRE(static_cast<bool>(spec));
    json function = parse(f.get("/api/functions/seke-face-emotion"));
    json spec_labels = json::parse(function["metadata"]["annotations"]["spec"].get<std::string>());
    BOOST_TEST(spec_labels == cvat::spec_labels_json(*spec));
    auto truth = f.truth();
    for (const std::string id : {"s00001", "s00002", "s00003"}) {
        auto reply = f.invoke({{"image", f.image_base64(id + ".jpg")}, {"threshold", 0.1}});
        BOOST_TEST_REQUIRE(reply.status == 200, reply.body);
        BOOST_TEST(reply.headers["content-type"].find("application/json") == 0);
        json answer = parse(reply);
        BOOST_TEST_REQUIRE(answer.size() == 2u, reply.body);  // the face (whole image: detection off) and the tag
        auto filtered = test::cvat_filter_detector_answer(answer, task_labels(*spec), spec_labels);
        BOOST_TEST(filtered.dropped.empty(), first_problem(filtered.dropped));
        const json& face = answer[0];
        BOOST_TEST(face["type"] == "rectangle");
        BOOST_TEST(face["points"][2].get<double>() > 0);
        std::map<std::string, std::string> attributes;
        for (const auto& a : face["attributes"]) attributes[a["name"]] = a["value"];
        BOOST_TEST(attributes.count("expression"));
        BOOST_TEST(attributes.count("valence"));
        BOOST_TEST(attributes.count("pl_confidence"));
        // The numbers decode to the labels the store keeps for this image.
        auto valence = cvat::decode_va(attributes["valence"], 100);
        BOOST_TEST_REQUIRE(valence.has_value());
        BOOST_TEST(std::abs(*valence - truth[id]["valence"].get<double>()) < 0.6);
    }
    auto paid = f.server->stats().total_requests;
    // CVAT calls again (a second automatic annotation, or direct mode): answered from the store.
    auto again = f.invoke_direct(json{{"image", f.image_base64("s00002.jpg")}}.dump());
    BOOST_TEST(again.status == 200);
    BOOST_TEST(parse(again).size() == 2u);
    BOOST_TEST(f.server->stats().total_requests == paid);
    BOOST_TEST(f.metric("seke_cvat_invocations_total{outcome=\"store\"}") == 1);
    // A threshold above every face's confidence leaves the frame tag alone, saying no face.
    json strict = parse(f.invoke({{"image", f.image_base64("s00002.jpg")}, {"threshold", 1.0}}));
    BOOST_TEST_REQUIRE(strict.size() == 1u);
    BOOST_TEST(strict[0]["type"] == "tag");
    BOOST_TEST(strict[0]["attributes"][0]["value"] == "no_face");
}

BOOST_AUTO_TEST_CASE(bad_bodies_get_400_unknown_functions_404_and_bad_frames_200_empty) {
    CvatFixture f;
    f.make_data(2);
    f.add_item_fault("s00002", "always_500");
    f.start_fake();
    f.start_serve({"--max-retries", "1", "--backoff-base-ms", "10", "--backoff-max-ms", "20"});
    auto error_code = [](const test::HttpResult& r) { return parse(r)["error"]["code"].get<std::string>(); };

    auto not_json = f.invoke_direct("this is not json");
    BOOST_TEST(not_json.status == 400);
    BOOST_TEST(error_code(not_json) == "bad_json");
    auto no_image = f.invoke({{"threshold", 0.5}});
    BOOST_TEST(no_image.status == 400);
    BOOST_TEST(parse(no_image)["error"]["message"].get<std::string>().find("image") != std::string::npos);
    BOOST_TEST(f.invoke({{"image", "%%% not base64 %%%"}}).status == 400);
    BOOST_TEST(f.invoke({{"image", f.image_base64("s00001.jpg")}, {"threshold", "high"}}).status == 400);
    BOOST_TEST(f.invoke_direct("[1, 2]").status == 400);
    auto unknown = f.invoke({{"image", f.image_base64("s00001.jpg")}}, "some-other-function");
    BOOST_TEST(unknown.status == 404);
    BOOST_TEST(error_code(unknown) == "not_found");
    BOOST_TEST(f.invoke({{"image", f.image_base64("s00001.jpg")}}, "").status == 404);

    // Per-frame problems never fail CVAT's whole job: 200 with [].
    auto undecodable = f.invoke({{"image", base64_encode("GIF89a but not really an image")}});
    BOOST_TEST(undecodable.status == 200);
    BOOST_TEST(parse(undecodable) == json::array());
    auto truncated_jpeg = test::read_file(f.data() / "images" / "s00001.jpg");
    truncated_jpeg.resize(truncated_jpeg.size() / 3);
    auto truncated = f.invoke({{"image", base64_encode(truncated_jpeg)}});
    BOOST_TEST(truncated.status == 200);
    BOOST_TEST(parse(truncated) == json::array());
    auto model_failure = f.invoke({{"image", f.image_base64("s00002.jpg")}});
    BOOST_TEST(model_failure.status == 200);
    BOOST_TEST(parse(model_failure) == json::array());
    // ... and the server still answers good frames.
    auto good = f.invoke({{"image", f.image_base64("s00001.jpg")}});
    BOOST_TEST(good.status == 200);
    BOOST_TEST(parse(good).size() == 1u);
    BOOST_TEST(f.get("/health").status == 200);
}

BOOST_AUTO_TEST_CASE(a_large_original_frame_is_accepted) {
    CvatFixture f;
    f.make_data(1);
    f.start_fake();
    f.start_serve();
    // A 4000x3000 frame with noise: several MB of JPEG, ~1.33x that in base64.
    cv::Mat frame(3000, 4000, CV_8UC3);
    cv::randu(frame, cv::Scalar::all(0), cv::Scalar::all(255));
    cv::Mat face = cv::imread((f.data() / "images" / "s00001.jpg").string());
    BOOST_TEST_REQUIRE(!face.empty());
    cv::resize(face, frame, frame.size());
    cv::Mat noise(frame.size(), CV_8UC3);
    cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(12));
    frame += noise;
    std::vector<unsigned char> jpeg;
    cv::imencode(".jpg", frame, jpeg, {cv::IMWRITE_JPEG_QUALITY, 98});
    std::string b64 = base64_encode(std::string(jpeg.begin(), jpeg.end()));
    BOOST_TEST_MESSAGE("frame body: " << b64.size() / (1 << 20) << " MiB of base64");
    BOOST_TEST(b64.size() > (3u << 20));
    auto reply = f.invoke({{"image", b64}});
    BOOST_TEST_REQUIRE(reply.status == 200, reply.body.substr(0, 300));
    json answer = parse(reply);
    BOOST_TEST_REQUIRE(answer.size() == 1u);
    BOOST_TEST(answer[0]["points"] == json::array({0.0, 0.0, 4000.0, 3000.0}));
}

BOOST_AUTO_TEST_SUITE_END()
