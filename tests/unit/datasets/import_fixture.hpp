#pragma once
// Runs an importer on a fixture written by the test in the dataset's native layout and reads
// the manifest back.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/datasets/import.hpp"
#include "tests/support/test_support.hpp"

namespace seke::test {

struct Imported {
    Result<datasets::ImportSummary> summary = make_error(errc::internal, "not run");
    std::vector<nlohmann::json> lines;
    std::map<std::string, nlohmann::json> by_id;
    [[nodiscard]] std::string error() const { return summary.ok() ? "" : summary.error().message; }
};

inline Imported run_importer(datasets::ImportOptions options) {
    Imported out;
    out.summary = datasets::run_import(options, test_knowledge());
    if (!out.summary) return out;
    std::string text = read_file(options.out);
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        auto line = nlohmann::json::parse(text.substr(start, end - start));
        out.by_id[line["id"].get<std::string>()] = line;
        out.lines.push_back(std::move(line));
        start = end + 1;
    }
    return out;
}

inline datasets::ImportOptions import_options(const std::string& dataset, const std::filesystem::path& root,
                                              const std::filesystem::path& out) {
    datasets::ImportOptions options;
    options.dataset = dataset;
    options.root = root;
    options.out = out;
    return options;
}

// Writes `content` to `path`, creating its folders.
inline void put(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::create_directories(path.parent_path());
    write_file(path, content);
}

// A placeholder image: the importers check that the file is there, not what it holds.
inline void touch(const std::filesystem::path& path) {
    put(path, "placeholder");
}

inline std::vector<std::string> strings(const nlohmann::json& value) {
    return value.get<std::vector<std::string>>();
}

// The knowledge's 17 AU codes.
inline std::vector<std::string> all_aus() {
    std::vector<std::string> codes;
    for (const auto& au : test_knowledge().action_units) codes.push_back(au.code);
    return codes;
}

}  // namespace seke::test
