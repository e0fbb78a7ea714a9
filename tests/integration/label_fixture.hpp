#pragma once
// A labeled-run fixture: a synthetic dataset in a temp dir, the fake VLLM in-process on
// 127.0.0.1, and the real `seke` binary run as a child process against it.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.hpp"
#include "tools/fake_vllm/dataset.hpp"
#include "tools/fake_vllm/fake_server.hpp"

namespace seke::test {

// The JSON objects of a JSON-lines file, blank lines skipped.
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);

struct LabelFixture {
    TempDir dir;
    std::unique_ptr<fake::FakeVllmServer> server;

    std::filesystem::path data() const { return dir / "data"; }
    std::filesystem::path manifest() const { return data() / "manifest.jsonl"; }
    std::filesystem::path db() const { return dir / "seke.db"; }

    void make_data(int count, double known_fraction = 0, std::uint64_t seed = 3);
    // Adds per-item faults (always_500 / always_malformed / always_hang) to the truth file.
    void add_item_fault(const std::string& id, const std::string& fault);
    void start_fake(fake::FakeOptions options = {});

    std::map<std::string, std::string> env() const;
    ProcessResult label(const std::vector<std::string>& extra = {}, int timeout_s = 300) const;
    ProcessResult run_seke(const std::vector<std::string>& args, int timeout_s = 120) const;
    // The JSON summary `seke label` prints last on stdout.
    static nlohmann::json summary(const ProcessResult& result);
    std::vector<nlohmann::json> export_records(const std::string& format = "feid-jsonl") const;
    std::map<std::string, nlohmann::json> truth() const;
    std::vector<nlohmann::json> manifest_lines() const;
};

}  // namespace seke::test
