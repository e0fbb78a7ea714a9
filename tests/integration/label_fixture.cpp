#include "tests/integration/label_fixture.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace seke::test {

using nlohmann::json;

void LabelFixture::make_data(int count, double known_fraction, std::uint64_t seed) {
    fake::DatasetOptions options;
    options.out = data();
    options.count = count;
    options.seed = seed;
    options.size = 128;
    options.known_fraction = known_fraction;
    fake::write_dataset(options);
}

void LabelFixture::add_item_fault(const std::string& id, const std::string& fault) {
    auto path = data() / "truth.jsonl";
    std::istringstream in(read_file(path));
    std::string out, line;
    while (std::getline(in, line)) {
        json row = json::parse(line);
        if (row["id"] == id) row["faults"].push_back(fault);
        out += row.dump() + "\n";
    }
    write_file(path, out);
}

void LabelFixture::start_fake(fake::FakeOptions options) {
    if (server) server->stop();
    options.truth_path = (data() / "truth.jsonl").string();
    server = std::make_unique<fake::FakeVllmServer>(options);
    server->start();
}

std::map<std::string, std::string> LabelFixture::env() const {
    return {{"OPENAI_BASE_URL", server ? server->base_url() : "http://127.0.0.1:9/v1"},
            {"OPENAI_API_KEY", "test-key"},
            {"SEKE_MODEL", "fake"},
            {"SEKE_BACKOFF_BASE_MS", "10"},
            {"SEKE_BACKOFF_MAX_MS", "50"},
            {"SEKE_PROGRESS_INTERVAL", "0.5"}};
}

ProcessResult LabelFixture::label(const std::vector<std::string>& extra, int timeout_s) const {
    std::vector<std::string> args = {SEKE_BINARY, "label",       "--input",          manifest().string(),
                                     "--db",      db().string(), "--face-detection", "off"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_process(args, env(), timeout_s);
}

ProcessResult LabelFixture::run_seke(const std::vector<std::string>& args, int timeout_s) const {
    std::vector<std::string> argv = {SEKE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, env(), timeout_s);
}

json LabelFixture::summary(const ProcessResult& result) {
    auto end = result.out.find_last_not_of("\n");
    if (end == std::string::npos) throw std::runtime_error("no summary; stderr: " + result.err);
    auto start = result.out.rfind('\n', end);
    std::string line = result.out.substr(start == std::string::npos ? 0 : start + 1, end + 1);
    json parsed = json::parse(line, nullptr, false);
    if (parsed.is_discarded()) throw std::runtime_error("summary is not JSON: " + line + "\nstderr: " + result.err);
    return parsed;
}

std::vector<json> LabelFixture::export_records(const std::string& format) const {
    auto out = dir / ("export-" + format);
    auto result = run_seke({"export", "--db", db().string(), "--format", format, "--out", out.string()});
    if (result.exit_code != 0) throw std::runtime_error("export failed: " + result.err);
    if (format == "feid-jsonl") return read_jsonl(out);
    std::vector<json> records;
    for (auto& entry : json::parse(read_file(out))) records.push_back(entry);
    return records;
}

std::map<std::string, json> LabelFixture::truth() const {
    std::map<std::string, json> rows;
    for (json& row : read_jsonl(data() / "truth.jsonl")) {
        std::string id = row["id"];
        rows[id] = std::move(row);
    }
    return rows;
}

std::vector<json> LabelFixture::manifest_lines() const {
    return read_jsonl(manifest());
}

std::vector<json> read_jsonl(const std::filesystem::path& path) {
    std::vector<json> rows;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) rows.push_back(json::parse(line));
    return rows;
}

}  // namespace seke::test
