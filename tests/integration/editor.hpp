#pragma once
// The real Label Studio editor (the npm bundle) in Debian's headless Chromium: loads one seke
// prediction with a labeling config and says what the editor made of it.
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/crypto.hpp"
#include "tests/support/test_support.hpp"

namespace seke::test {

// Loads the answer into the real Label Studio editor (the npm bundle) in headless Chromium and
// returns what the editor loaded, or fails the test with what the page said.
inline nlohmann::json load_in_editor(const TempDir& dir, const nlohmann::json& prediction, const std::string& config,
                                     const std::filesystem::path& image) {
    std::string page = read_file(source_path("tests/integration/browser/editor_page.html"));
    auto replace = [&](const std::string& key, const std::string& value) {
        for (auto at = page.find(key); at != std::string::npos; at = page.find(key, at + value.size()))
            page.replace(at, key.size(), value);
    };
    replace("@LSF@", "file://" + (std::filesystem::path(SEKE_TEST_ASSETS_DIR) / "label-studio" / "build").string());
    replace("@PREDICTION@", prediction.dump());
    replace("@CONFIG@", nlohmann::json(config).dump());
    replace("@IMAGE@", nlohmann::json("data:image/jpeg;base64," + base64_encode(read_file(image))).dump());
    auto page_path = dir / "editor.html";
    write_file(page_path, page);
    auto result = run_process(
        {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--user-data-dir=" + (dir / "chromium-profile").string(), "--allow-file-access-from-files",
         "--virtual-time-budget=10000", "--dump-dom", "file://" + page_path.string()},
        {}, 120);
    // Found by hand, not by std::regex: libstdc++'s matcher recurses once per character, and the
    // page (with the photo inlined) is long enough to overflow a sanitizer build's stack.
    const std::string open_marker = "<pre id=\"seke-result\">";
    const auto open = result.out.find(open_marker);
    const auto close = open == std::string::npos ? open : result.out.find("</pre>", open);
    BOOST_TEST_REQUIRE(close != std::string::npos,
                       "no result in the page; chromium said: " << result.err.substr(0, 2000));
    std::string text = result.out.substr(open + open_marker.size(), close - open - open_marker.size());
    for (auto at = text.find("&quot;"); at != std::string::npos; at = text.find("&quot;")) text.replace(at, 6, "\"");
    BOOST_TEST_REQUIRE(text.rfind("RESULT ", 0) == 0, "the editor did not load the prediction: " << text);
    return nlohmann::json::parse(text.substr(7));
}

// "from_name:type:id" per result; whole-image results carry no id (the editor makes its own),
// so for those only "from_name:type" is compared.
inline std::vector<std::string> result_keys(const nlohmann::json& results, bool with_ids) {
    std::vector<std::string> keys;
    for (const auto& r : results) {
        std::string key = r.is_string() ? r.get<std::string>()
                                        : r["from_name"].get<std::string>() + ":" + r["type"].get<std::string>() + ":" +
                                              (r.contains("id") ? r["id"].get<std::string>() : "");
        if (!with_ids) key = key.substr(0, key.rfind(':'));
        keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
}

}  // namespace seke::test
