#include "connectors/ssrf_guard.hpp"
#include "verify/text.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>

namespace seke {
namespace {

using Bytes16 = std::array<std::uint8_t, 16>;

// "[::1]" -> "::1", "Example.COM." -> "example.com"
std::string normalise_host(const std::string& host) {
    std::string out = host;
    if (out.size() >= 2 && out.front() == '[' && out.back() == ']') out = out.substr(1, out.size() - 2);
    while (!out.empty() && out.back() == '.') out.pop_back();
    return to_lower(out);
}

bool in_v4(std::uint32_t ip, std::uint32_t net, int bits) {
    std::uint32_t mask = bits == 0 ? 0u : ~0u << (32 - bits);
    return (ip & mask) == (net & mask);
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}

AddressKind classify_v4(std::uint32_t ip) {
    if (ip == v4(169, 254, 169, 254)) return AddressKind::metadata;
    if (in_v4(ip, v4(0, 0, 0, 0), 8)) return AddressKind::unspecified;
    if (in_v4(ip, v4(127, 0, 0, 0), 8)) return AddressKind::loopback;
    if (in_v4(ip, v4(169, 254, 0, 0), 16)) return AddressKind::link_local;
    if (in_v4(ip, v4(224, 0, 0, 0), 4)) return AddressKind::multicast;
    if (in_v4(ip, v4(240, 0, 0, 0), 4)) return AddressKind::reserved;  // includes 255.255.255.255
    if (in_v4(ip, v4(10, 0, 0, 0), 8) || in_v4(ip, v4(172, 16, 0, 0), 12) || in_v4(ip, v4(192, 168, 0, 0), 16) ||
        in_v4(ip, v4(100, 64, 0, 0), 10))
        return AddressKind::private_address;
    return AddressKind::public_address;
}

std::uint32_t v4_at(const Bytes16& b, std::size_t at) {
    return (static_cast<std::uint32_t>(b[at]) << 24) | (static_cast<std::uint32_t>(b[at + 1]) << 16) |
           (static_cast<std::uint32_t>(b[at + 2]) << 8) | b[at + 3];
}

AddressKind classify_v6(const Bytes16& b) {
    static const Bytes16 metadata = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    if (b == metadata) return AddressKind::metadata;
    bool zero_prefix = std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; });
    // ::ffff:a.b.c.d (mapped) and 64:ff9b::a.b.c.d (NAT64) reach the IPv4 address they carry.
    if (zero_prefix && b[10] == 0xff && b[11] == 0xff) return classify_v4(v4_at(b, 12));
    static const std::array<std::uint8_t, 12> nat64 = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::equal(nat64.begin(), nat64.end(), b.begin())) return classify_v4(v4_at(b, 12));
    bool all_zero_but_last = zero_prefix && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0;
    if (all_zero_but_last && b[15] == 0) return AddressKind::unspecified;
    if (all_zero_but_last && b[15] == 1) return AddressKind::loopback;
    if (b[0] == 0xff) return AddressKind::multicast;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressKind::link_local;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressKind::private_address;  // site-local (deprecated)
    if ((b[0] & 0xfe) == 0xfc) return AddressKind::private_address;                  // unique local
    return AddressKind::public_address;
}

bool allowlisted(const std::string& host, const std::vector<std::string>& allowlist) {
    for (const auto& raw : allowlist) {
        std::string entry = normalise_host(raw);
        if (entry.empty()) continue;
        if (entry.rfind("*.", 0) == 0) {
            std::string suffix = entry.substr(1);  // ".domain"
            if (host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0)
                return true;
        } else if (host == entry) {
            return true;
        }
    }
    return false;
}

}  // namespace

AddressKind classify_address(const std::string& address) {
    std::string text = normalise_host(address);
    in_addr a4{};
    if (inet_pton(AF_INET, text.c_str(), &a4) == 1) return classify_v4(ntohl(a4.s_addr));
    in6_addr a6{};
    if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
        Bytes16 bytes{};
        std::memcpy(bytes.data(), &a6, bytes.size());
        return classify_v6(bytes);
    }
    return AddressKind::invalid;
}

const char* address_kind_name(AddressKind kind) {
    switch (kind) {
        case AddressKind::public_address: return "public";
        case AddressKind::private_address: return "private-network";
        case AddressKind::loopback: return "loopback";
        case AddressKind::link_local: return "link-local";
        case AddressKind::metadata: return "cloud-metadata";
        case AddressKind::unspecified: return "unspecified";
        case AddressKind::multicast: return "multicast";
        case AddressKind::reserved: return "reserved";
        case AddressKind::invalid: return "invalid";
    }
    return "invalid";
}

std::optional<Error> check_address(const std::string& address, const SsrfPolicy& policy) {
    AddressKind kind = classify_address(address);
    switch (kind) {
        case AddressKind::public_address: return std::nullopt;
        case AddressKind::private_address:
        case AddressKind::loopback:
            if (policy.allow_private_hosts) return std::nullopt;
            return make_error(errc::forbidden, "refusing to fetch from " + address + ": a " + address_kind_name(kind) +
                                                   " address, and private hosts are not allowed");
        default:
            return make_error(errc::forbidden, "refusing to fetch from " + address + ": a " + address_kind_name(kind) +
                                                   " address is never fetched");
    }
}

std::optional<Error> check_host_name(const std::string& host, const SsrfPolicy& policy) {
    std::string name = normalise_host(host);
    if (name.empty()) return make_error(errc::forbidden, "refusing to fetch: the URL has no host");
    if (name == "metadata.google.internal" || name == "metadata.goog")
        return make_error(errc::forbidden, "refusing to fetch from " + name + ": the cloud metadata service");
    if (!policy.host_allowlist.empty() && !allowlisted(name, policy.host_allowlist))
        return make_error(errc::forbidden,
                          "refusing to fetch from " + name + ": the host is not in the host allowlist");
    return std::nullopt;
}

std::optional<Error> check_resolved(const std::string& host, const std::vector<std::string>& addresses,
                                    const SsrfPolicy& policy) {
    if (auto error = check_host_name(host, policy)) return error;
    if (addresses.empty()) return make_error(errc::upstream_error, "host " + normalise_host(host) + " has no address");
    for (const auto& address : addresses) {
        if (auto error = check_address(address, policy)) {
            std::string name = normalise_host(host);
            if (name != normalise_host(address)) error->message += " (" + name + " resolves to it)";
            return error;
        }
    }
    return std::nullopt;
}

Result<std::vector<std::string>> resolve_guarded(const std::string& host, const SsrfPolicy& policy) {
    std::string name = normalise_host(host);
    if (classify_address(name) != AddressKind::invalid) {
        if (auto error = check_resolved(name, {name}, policy)) return *error;
        return std::vector<std::string>{name};
    }
    if (auto error = check_host_name(name, policy)) return *error;  // before any DNS traffic

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* raw = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &raw);
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(raw, &freeaddrinfo);
    if (rc != 0 || !raw)
        return make_error(errc::upstream_error, "cannot resolve host " + name + ": " + gai_strerror(rc));

    std::vector<std::string> addresses;
    for (const addrinfo* ai = raw; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = {0};
        const void* where = nullptr;
        if (ai->ai_family == AF_INET) where = &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6) where = &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr;
        if (!where || !inet_ntop(ai->ai_family, where, text, sizeof text)) continue;
        if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) addresses.emplace_back(text);
    }
    if (auto error = check_resolved(name, addresses, policy)) return *error;
    return addresses;
}

}  // namespace seke
