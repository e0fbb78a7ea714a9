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
        std::vector<std::string> args = {SEKE_BINARY, "serve",       "--port",           "0",
                                         "--db",      db().string(), "--face-detection", "off"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto environment = env();
        environment["LOCAL_FILES_DOCUMENT_ROOT"] = data().string();
        for (auto& [k, v] : more_env) environment[k] = v;
        // A restart must not read the port of the server before it from a log not yet truncated.
        std::filesystem::remove(dir / "serve.err");
        serve = std::make_unique<BackgroundProcess>(args, environment, dir / "serve.out", dir / "serve.err");
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        std::regex port_pattern("\"msg\":\"listening\".*\"port\":([0-9]+)");
        while (std::chrono::steady_clock::now() < deadline) {
            std::string log = std::filesystem::exists(dir / "serve.err") ? read_file(dir / "serve.err") : "";
            std::smatch match;
            if (std::regex_search(log, match, port_pattern)) {
                base = "http://127.0.0.1:" + match[1].str();
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        BOOST_FAIL("seke serve did not start: " + read_file(dir / "serve.err"));
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
};

inline nlohmann::json parse(const HttpResult& result) {
    nlohmann::json body = nlohmann::json::parse(result.body, nullptr, false);
    BOOST_TEST_REQUIRE(!body.is_discarded(), "not JSON: " << result.body);
    return body;
}

}  // namespace seke::test
