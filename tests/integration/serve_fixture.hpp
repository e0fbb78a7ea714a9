#pragma once
// The real `seke serve` binary on 127.0.0.1 (port 0) against the fake VLLM, with helpers to call
// it: shared by the Label Studio and CVAT integration tests.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/label_fixture.hpp"

namespace seke::test {

struct ServeFixture : LabelFixture {
    std::unique_ptr<BackgroundProcess> serve;
    std::string base;

    void start_serve(const std::vector<std::string>& extra = {}, std::map<std::string, std::string> more_env = {}) {
        std::vector<std::string> args = {"--db", db().string()};
        args.insert(args.end(), extra.begin(), extra.end());
        base = start_server("serve", args, std::move(more_env), serve);
    }

    // One more `seke serve` (a replica), its log in NAME.err; returns its base URL.
    std::string start_server(const std::string& name, const std::vector<std::string>& extra,
                             std::map<std::string, std::string> more_env, std::unique_ptr<BackgroundProcess>& process) {
        std::vector<std::string> args = {SEKE_BINARY, "serve", "--port", "0", "--face-detection", "off"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto environment = env();
        environment["LOCAL_FILES_DOCUMENT_ROOT"] = data().string();
        for (auto& [k, v] : more_env) environment[k] = v;
        // A restart must not read the port of the server before it from a log not yet truncated.
        const auto log_path = dir / (name + ".err");
        std::filesystem::remove(log_path);
        process = std::make_unique<BackgroundProcess>(args, environment, dir / (name + ".out"), log_path);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        std::regex port_pattern("\"msg\":\"listening\".*\"port\":([0-9]+)");
        while (std::chrono::steady_clock::now() < deadline) {
            std::string log = std::filesystem::exists(log_path) ? read_file(log_path) : "";
            std::smatch match;
            if (std::regex_search(log, match, port_pattern)) return "http://127.0.0.1:" + match[1].str();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        BOOST_FAIL("seke serve did not start: " + read_file(log_path));
        return {};
    }

    HttpResult post(const std::string& path, const nlohmann::json& body, const std::vector<std::string>& headers = {}) {
        return http_request("POST", base + path, body.dump(), headers);
    }
    HttpResult get(const std::string& path, const std::vector<std::string>& headers = {}) {
        return http_request("GET", base + path, {}, headers);
    }

    // The server's log so far. Its info lines are written in batches (at most 50 ms late), so
    // this waits a little longer than that first.
    [[nodiscard]] std::string serve_log() const {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return read_file(dir / "serve.err");
    }

    static nlohmann::json task(long long id, const std::string& image) {
        return {{"id", id}, {"data", {{"image", "/data/local-files/?d=images/" + image}}}};
    }
    static std::string faces_config() { return read_file(source_path("config/label_studio/faces.xml")); }
    // Label Studio's webhook for one annotation of `task` with `result`, by annotator 7.
    static nlohmann::json review_event(const nlohmann::json& project, long long task, const nlohmann::json& result) {
        return {{"action", "ANNOTATION_CREATED"},
                {"annotation",
                 {{"id", task * 10},
                  {"result", result},
                  {"task", task},
                  {"completed_by", 7},
                  {"was_cancelled", false},
                  {"updated_at", "2026-11-26T10:00:00Z"}}},
                {"task", {{"id", task}}},
                {"project", project}};
    }
};

inline nlohmann::json parse(const HttpResult& result) {
    nlohmann::json body = nlohmann::json::parse(result.body, nullptr, false);
    BOOST_TEST_REQUIRE(!body.is_discarded(), "not JSON: " << result.body);
    return body;
}

}  // namespace seke::test
