#pragma once
// Helpers shared by every test binary. Everything stays on loopback and under a temp dir.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connectors/face_expert.hpp"
#include "connectors/image.hpp"
#include "verify/knowledge.hpp"

namespace seke::test {

// How much longer than the optimised build a timing test allows: the code under test runs about
// twice as slow under AddressSanitizer and five to fifteen times under ThreadSanitizer, so a test
// that measures a deadline or a wait scales its time unit (media delays, deadlines and bounds
// alike) by this, keeping the ratios it checks.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kTimeScale = 5;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kTimeScale = 3;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr int kTimeScale = 5;
#elif __has_feature(address_sanitizer)
inline constexpr int kTimeScale = 3;
#else
inline constexpr int kTimeScale = 1;
#endif
#else
inline constexpr int kTimeScale = 1;
#endif

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

// The tiny face detector's weights manifest that scripts/fetch-models.sh puts in models/.
std::string face_model_path();
// The face expert's weights (face-api's and Human's) that scripts/fetch-models.sh puts in models/.
ExpertModelPaths expert_model_paths();
// Default face options in `mode`, with that detector model.
FaceOptions face_options_with(FaceMode mode);

// config/knowledge.json, parsed by the real loader.
const Knowledge& test_knowledge();

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

struct ProcessResult {
    int exit_code = -1;  // -signal when killed by a signal
    std::string out;     // stdout
    std::string err;     // stderr
};

// Runs `argv` (argv[0] a path) with extra environment variables, waits at most timeout_s.
ProcessResult run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                          int timeout_s = 300);

// A child process running in the background; killed (SIGKILL) at scope exit if still running.
class BackgroundProcess {
  public:
    BackgroundProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                      const std::filesystem::path& stdout_path, const std::filesystem::path& stderr_path);
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    void signal(int sig);
    // Waits for exit up to timeout_s; returns the exit code (-signal), or nullopt on time-out.
    std::optional<int> wait(int timeout_s);

  private:
    int pid_ = -1;
    std::optional<int> status_;
};

struct HttpResult {
    long status = 0;  // 0 when the request could not be made
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
};
// One HTTP request with libcurl (tests only talk to 127.0.0.1).
HttpResult http_request(const std::string& method, const std::string& url, const std::string& body = {},
                        const std::vector<std::string>& headers = {}, int timeout_ms = 30000);

// Waits until `path` exists and is non-empty, up to timeout_s; returns its content or "".
std::string wait_for_file(const std::filesystem::path& path, int timeout_s);

}  // namespace seke::test
