#pragma once
// The libcurl plumbing every connector shares: one global init, a response sink that keeps the
// body under a byte cap (every download seke makes is bounded) and the final response's
// headers, and the options every seke transfer sets.
#include <curl/curl.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace seke {

// curl_global_init, once per process: called by make_curl_easy, and before a multi handle.
void curl_global_once();

using CurlEasy = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
// A fresh easy handle, global init done; null when libcurl cannot make one.
CurlEasy make_curl_easy();

// What one transfer brings back. Filled by the callbacks set_transfer_options installs.
struct CurlResponse {
    std::string body;
    std::size_t max_bytes = 0;
    bool too_large = false;                      // the cap was hit and the transfer aborted
    std::map<std::string, std::string> headers;  // lower-case names, trimmed values; at most 100
    char error[CURL_ERROR_SIZE] = {0};           // libcurl's detail of a failure, "" when none

    // Empties the response for a new transfer (a retry) with this cap.
    void reset(std::size_t cap);
    // Over the cap: aborted while writing, or refused up front on its Content-Length.
    [[nodiscard]] bool over_cap(CURLcode code) const noexcept;
    // A header of the final response; `lower_case_name` as in "retry-after".
    [[nodiscard]] std::optional<std::string> header(const std::string& lower_case_name) const;
    // Why the transfer failed: libcurl's own detail when it gave one, else the code's text.
    [[nodiscard]] std::string failure(CURLcode code) const;
};

struct TransferOptions {
    long timeout_ms = 30000;                 // the whole transfer
    std::optional<long> connect_timeout_ms;  // unset: the timeout, at most 10 s
    bool verify_tls = true;                  // false accepts self-signed certificates
};

// What every seke transfer sets: the URL, http and https only, the timeouts, no signals, the
// seke user agent, `response` as the body and header sink with its cap also applied to an
// announced Content-Length, and TLS verification. `response` must outlive the transfer.
void set_transfer_options(CURL* handle, const std::string& url, CurlResponse& response, const TransferOptions& options);

}  // namespace seke
