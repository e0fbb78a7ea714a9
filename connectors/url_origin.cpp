#include "connectors/url_origin.hpp"

#include <curl/curl.h>

#include <cstdlib>
#include <memory>

#include "verify/text.hpp"

namespace seke {

std::optional<UrlOrigin> parse_origin(const std::string& url) {
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
    if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
    auto part = [&](CURLUPart which, unsigned int flags) -> std::optional<std::string> {
        char* raw = nullptr;
        if (curl_url_get(handle.get(), which, &raw, flags) != CURLUE_OK || !raw) return std::nullopt;
        std::string value(raw);
        curl_free(raw);
        return value;
    };
    auto scheme = part(CURLUPART_SCHEME, 0);
    auto host = part(CURLUPART_HOST, 0);
    auto port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
    if (!scheme || !host || !port) return std::nullopt;
    UrlOrigin origin;
    origin.scheme = to_lower(*scheme);
    origin.host = to_lower(*host);
    if (origin.host.size() >= 2 && origin.host.front() == '[' && origin.host.back() == ']')
        origin.host = origin.host.substr(1, origin.host.size() - 2);
    origin.port = std::strtol(port->c_str(), nullptr, 10);
    return origin;
}

std::string redact_url(const std::string& url) {
    std::string out = url.substr(0, url.find_first_of("?#"));
    auto scheme_end = out.find("://");
    if (scheme_end != std::string::npos) {
        auto host_start = scheme_end + 3;
        auto at = out.find('@', host_start);
        auto slash = out.find('/', host_start);
        if (at != std::string::npos && (slash == std::string::npos || at < slash))
            out.erase(host_start, at + 1 - host_start);
    }
    if (out.size() > 300) out = out.substr(0, 300) + "...";
    return out;
}

}  // namespace seke
