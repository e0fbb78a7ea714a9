#pragma once
// The origin (scheme, host, port) of a URL, for "send credentials only to this server" checks,
// and what messages may show of a URL.
#include <optional>
#include <string>

namespace seke {

struct UrlOrigin {
    std::string scheme;  // lower case
    std::string host;    // lower case, IPv6 without brackets
    long port = 0;       // the scheme's default when the URL names none
    bool operator==(const UrlOrigin&) const = default;
};

// nullopt when the URL does not parse or lacks a scheme or host.
std::optional<UrlOrigin> parse_origin(const std::string& url);

// What a message may show of a URL: no user info, query or fragment (they can carry
// signatures and tokens); at most 300 characters.
std::string redact_url(const std::string& url);

}  // namespace seke
