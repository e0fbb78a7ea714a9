#pragma once
// The providers' batch APIs, as the VLLM client uses them in batch mode (vllm.batch): the JSONL
// line formats (OpenAI's Batch API and vLLM's offline runner share them), the Batch API calls
// (file upload, batch create, status, file download) and the ledger of batches submitted, so a
// stopped run polls them again instead of paying twice.
#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "verify/errors.hpp"
#include "verify/labels.hpp"

namespace seke {

// What one chat completion answered: a choice's text per choice (at most `n`), and its usage.
struct Completion {
    std::vector<std::string> contents;
    TokenCounts usage;
};
// A chat completion body; nullopt when `body` is not one (no choices array).
std::optional<Completion> read_completion(const nlohmann::json& body, int n);

// One request line: {"custom_id","method":"POST","url":"/v1/chat/completions","body":BODY};
// `body` is the chat request's JSON text, as the online path sends it.
std::string batch_request_line(const std::string& custom_id, const std::string& body);

// One line of an output or error file.
struct BatchLineResult {
    std::string custom_id;
    std::optional<Completion> answer;  // status 200 with a chat completion
    std::string error;                 // why not, when no answer
};
// nullopt when the line names no custom_id (not JSON, not an object, a custom_id that is not a
// non-empty string of at most kMaxCustomIdBytes). Wrong types elsewhere make a failed line.
std::optional<BatchLineResult> parse_batch_output_line(std::string_view line, int n);
inline constexpr std::size_t kMaxCustomIdBytes = 512;

// The custom_id of a request line (for file mode: which requests a round holds); nullopt when
// the line is not a request line.
std::optional<std::string> batch_request_custom_id(std::string_view line);

// A batch's state as its status answer says.
struct BatchStatus {
    std::string status;  // validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled
    std::string output_file_id, error_file_id;  // empty when none
    std::string errors;                         // the validation errors' text, bounded
    // No more change will come: completed, failed, expired or cancelled.
    [[nodiscard]] bool finished() const;
};
// A batch object; an error when it is not one (no status string).
Result<BatchStatus> read_batch_status(std::string_view body);

// The Batch API at one OpenAI-compatible base URL (".../v1"), one blocking call at a time.
struct BatchApiSettings {
    std::string base_url;
    std::string api_key;  // sent as Bearer; never logged
    int timeout_ms = 120'000;
    int transfer_timeout_ms = 1'800'000;  // uploads and downloads: up to 200 MB each
    std::size_t max_download_bytes = 512u << 20;
};
class BatchApi {
  public:
    // A call in progress returns errc::cancelled soon after `stop` becomes true (may be null).
    BatchApi(BatchApiSettings settings, const std::atomic<bool>* stop);

    Result<std::string> upload(const std::string& jsonl);          // POST /files, purpose=batch: the file id
    Result<std::string> create(const std::string& input_file_id);  // POST /batches: the batch id
    Result<BatchStatus> status(const std::string& batch_id);       // GET /batches/{id}
    Result<std::string> download(const std::string& file_id);      // GET /files/{id}/content
    // HTTP requests made so far.
    [[nodiscard]] std::int64_t requests() const noexcept { return requests_; }

  private:
    Result<std::string> call(const std::string& method, const std::string& path, const std::string& body,
                             const std::string& jsonl, bool transfer);
    BatchApiSettings settings_;
    const std::atomic<bool>* stop_;
    std::int64_t requests_ = 0;
};

// The batches a run submitted and has not yet read back, kept by the store.
struct OpenBatch {
    std::string batch_id;
    std::vector<std::string> custom_ids;
};
class BatchLedger {
  public:
    virtual ~BatchLedger() = default;
    virtual void record(const std::string& batch_id, const std::vector<std::string>& custom_ids) = 0;
    virtual std::vector<OpenBatch> open_batches() = 0;
    // Its answers are read (or it failed): it is not polled again. `status` says how it ended.
    virtual void close(const std::string& batch_id, const std::string& status) = 0;
};

}  // namespace seke
