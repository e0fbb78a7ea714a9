#pragma once
// Label Studio as a media source and an API. Resolves task data values (uploads, local files,
// cloud URIs via presign, plain URLs, data URIs) to bytes the way the LS SDK does, and posts
// predictions. LS credentials go only to the LS origin (scheme, host and port); every other host
// passes the SSRF guard, is pinned to the address it resolved to, and is re-checked on each
// redirect hop. Nothing here logs, so no secret can end up in a log.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "verify/errors.hpp"

namespace seke {

// Filled from the option table (plugin/config): the comments name the environment variables.
struct LabelStudioSettings {
    std::string url;                          // LABEL_STUDIO_URL, else LABEL_STUDIO_HOST; http(s)://...
    std::string api_key;                      // LABEL_STUDIO_API_KEY, else LABEL_STUDIO_ACCESS_TOKEN
    std::string local_files_root;             // LOCAL_FILES_DOCUMENT_ROOT; empty: no file is read from disk
    bool verify_ssl = true;                   // VERIFY_SSL
    bool allow_private_hosts = true;          // LS itself usually lives on a private network
    std::vector<std::string> host_allowlist;  // non-empty: only these hosts (plus LS) are fetched
    int timeout_ms = 30000;                   // API calls; media downloads use ImageLimits
    int max_retries = 3;                      // create_prediction / get_json, on 5xx, 429, network errors
    int retry_base_ms = 500;                  // backoff: base * 2^attempt, capped at 10 s
};

// How the API key is presented to LS.
enum class LabelStudioTokenKind {
    none,     // no key configured
    legacy,   // "Authorization: Token <key>"
    jwt,      // a JWT that is not a refresh token: "Authorization: Bearer <key>"
    refresh,  // a personal access token: exchanged at /api/token/refresh/, then "Bearer <access>"
};
LabelStudioTokenKind classify_label_studio_token(const std::string& token);

// Joins `relative` under `root` for a local read. Errors: forbidden (a ".." component, or the
// canonical path, symlinks resolved, leaves the canonical root), not_found (nothing there),
// invalid_argument (empty or NUL). Returns the canonical path.
Result<std::filesystem::path> safe_join(const std::filesystem::path& root, const std::string& relative);

// Thread-safe: one client may serve every image thread.
class LabelStudioClient {
  public:
    explicit LabelStudioClient(LabelStudioSettings settings, ImageLimits limits = {});
    ~LabelStudioClient();
    LabelStudioClient(const LabelStudioClient&) = delete;
    LabelStudioClient& operator=(const LabelStudioClient&) = delete;

    // The encoded bytes behind a task data value (rules of the protocol note, section 1.7).
    // `task_id` is needed for s3://, gs:// and azure-blob:// values. Errors: config_error (LS URL
    // or key missing/bad), forbidden (SSRF guard, path escaping the root), invalid_argument,
    // not_found, payload_too_large, upstream_error (with the status; URLs without their query),
    // upstream_timeout, unauthorized (token exchange refused).
    Result<std::string> fetch_task_media(const std::string& value, std::optional<long long> task_id);

    // POST {LS}/api/predictions/ with {"task", "result", "score", "model_version"} taken from
    // `prediction` (result required, a list). Returns LS's answer (the created prediction).
    Result<nlohmann::json> create_prediction(long long task_id, const nlohmann::json& prediction);

    // GET {LS}{path} (e.g. "/api/tasks/12"), parsed as JSON.
    Result<nlohmann::json> get_json(const std::string& path);

    [[nodiscard]] const LabelStudioSettings& settings() const noexcept;
    [[nodiscard]] LabelStudioTokenKind token_kind() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke
