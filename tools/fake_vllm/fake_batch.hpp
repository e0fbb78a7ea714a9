#pragma once
// The fake's OpenAI Batch API: files uploaded as multipart (purpose=batch), batches made from
// them, their status, output and error files, and cancellation.
//   POST /v1/files                  multipart: purpose=batch, file=<JSONL>   → the file object
//   GET  /v1/files/{id}/content     the bytes (input, output or error JSONL)
//   POST /v1/batches                {"input_file_id","endpoint":"/v1/chat/completions","completion_window":"24h"}
//   GET  /v1/batches/{id}           the batch object (status, request_counts, output_file_id, error_file_id)
//   POST /v1/batches/{id}/cancel    cancelled unless already finished
// Each input line is {"custom_id","method":"POST","url":"/v1/chat/completions","body":{...}}; each
// output line {"id","custom_id","response":{"status_code","request_id","body"},"error":null}. A
// batch is answered when it is first looked at `delay_ms` after it was made: each line by the
// same chat logic the online endpoint runs, so the same body and seed give the same answer. A
// share `fail_rate` of the lines fail without reaching the model, alternately as a line of the
// error file ({"error":{"code","message"}}) and as a 500 line of the output file (vLLM's way).
// Bounded: files (count, bytes each and in all), lines per batch and per line.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "tools/fake_vllm/fake_server.hpp"

namespace seke::fake {

struct BatchLimits {
    std::size_t max_files = 512;
    std::size_t max_file_bytes = 256u << 20;
    std::size_t max_total_bytes = 1024u << 20;
    std::size_t max_lines = 50'000;
    std::size_t max_line_bytes = 16u << 20;
};

struct BatchCounts {
    std::uint64_t files = 0, batches = 0, lines = 0, failed_lines = 0, cancelled = 0;
};

// One chat body in, the online endpoint's reply out.
using ChatAnswerer = std::function<FakeReply(const std::string& body)>;

class BatchDesk {
  public:
    BatchDesk(BatchLimits limits, std::uint64_t seed, int delay_ms, double fail_rate, ChatAnswerer answer);
    ~BatchDesk();
    BatchDesk(const BatchDesk&) = delete;
    BatchDesk& operator=(const BatchDesk&) = delete;

    // Whether `path` is one of the batch routes (then handle() answers it).
    [[nodiscard]] static bool routes(std::string_view path);
    // Never throws; a client mistake is a 4xx in OpenAI's error shape.
    FakeReply handle(std::string_view method, std::string_view path, std::string_view content_type,
                     const std::string& body);
    [[nodiscard]] BatchCounts counts() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The parts of a multipart/form-data body by name: a field's value, or a file's bytes. Empty on
// a body that is not one (no boundary, no closing delimiter); at most 16 parts.
std::map<std::string, std::string> parse_multipart(std::string_view content_type, std::string_view body);

}  // namespace seke::fake
