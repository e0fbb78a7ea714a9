#pragma once
// Helpers shared by every test binary. Everything stays on loopback and under a temp dir.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "verify/knowledge.hpp"

namespace seke::test {

// A fresh directory removed at scope exit.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

// A file of the source tree, e.g. source_path("config/knowledge.json").
std::filesystem::path source_path(const std::string& relative);

// config/knowledge.json, parsed by the real loader.
const Knowledge& test_knowledge();

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

struct ProcessResult {
    int exit_code = -1;   // -signal when killed by a signal
    std::string out;      // stdout
    std::string err;      // stderr
};

// Runs `argv` (argv[0] a path) with extra environment variables, waits at most timeout_s.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          int timeout_s = 300);

}  // namespace seke::test
