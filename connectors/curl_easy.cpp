#include "connectors/curl_easy.hpp"

#include <algorithm>
#include <mutex>
#include <string_view>

#include "verify/text.hpp"

namespace seke {
namespace {

constexpr std::size_t kMaxHeaders = 100;
constexpr long kMaxConnectTimeoutMs = 10000;

// CURLOPT_WRITEFUNCTION for a CurlResponse*: returning short aborts the transfer.
std::size_t append_bounded(char* data, std::size_t size, std::size_t count, void* user) {
    auto* response = static_cast<CurlResponse*>(user);
    std::size_t bytes = size * count;
    if (response->body.size() + bytes > response->max_bytes) {
        response->too_large = true;
        return 0;
    }
    response->body.append(data, bytes);
    return bytes;
}

// CURLOPT_HEADERFUNCTION for a CurlResponse*: one call per header line, status lines included.
std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* response = static_cast<CurlResponse*>(user);
    std::size_t bytes = size * count;
    std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
        response->headers.clear();  // a new response (after 100 Continue or a redirect): start over
        return bytes;
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos && response->headers.size() < kMaxHeaders)
        response->headers[to_lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    return bytes;
}

}  // namespace

void curl_global_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlEasy make_curl_easy() {
    curl_global_once();
    return CurlEasy(curl_easy_init(), &curl_easy_cleanup);
}

void CurlResponse::reset(std::size_t cap) {
    body.clear();
    max_bytes = cap;
    too_large = false;
    headers.clear();
    error[0] = '\0';
}

bool CurlResponse::over_cap(CURLcode code) const noexcept {
    return too_large || code == CURLE_FILESIZE_EXCEEDED;
}

std::optional<std::string> CurlResponse::header(const std::string& lower_case_name) const {
    auto it = headers.find(lower_case_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
}

std::string CurlResponse::failure(CURLcode code) const {
    return error[0] ? error : curl_easy_strerror(code);
}

void set_transfer_options(CURL* handle, const std::string& url, CurlResponse& response,
                          const TransferOptions& options) {
    const long timeout_ms = std::max(1L, options.timeout_ms);
    const long connect_timeout_ms = options.connect_timeout_ms ? std::max(1L, *options.connect_timeout_ms)
                                                               : std::min(timeout_ms, kMaxConnectTimeoutMs);
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_USERAGENT, "seke/" SEKE_VERSION);
    curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(response.max_bytes));
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &append_bounded);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &collect_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, response.error);
    if (!options.verify_tls) {
        curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

}  // namespace seke
