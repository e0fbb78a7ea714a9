#pragma once
// The SSRF guard: task data is written by whoever can import tasks, so a URL in it must not make
// seke fetch the cloud metadata service, link-local or (by policy) private addresses. Callers
// resolve once here and pin the address they connect to, so DNS rebinding cannot swap it.
#include <optional>
#include <string>
#include <vector>

#include "verify/errors.hpp"

namespace seke {

struct SsrfPolicy {
    bool allow_private_hosts = true;          // loopback, RFC 1918, CGNAT, IPv6 ULA
    std::vector<std::string> host_allowlist;  // non-empty: only these ("host" or "*.domain")
};

enum class AddressKind {
    public_address,
    private_address,  // RFC 1918, 100.64/10 (CGNAT), fc00::/7 (ULA), fec0::/10
    loopback,         // 127/8, ::1
    link_local,       // 169.254/16, fe80::/10
    metadata,         // 169.254.169.254, fd00:ec2::254
    unspecified,      // 0/8, ::
    multicast,        // 224/4, ff00::/8
    reserved,         // 240/4 and broadcast
    invalid,          // not a numeric IPv4/IPv6 address
};

// Classifies a numeric address ("10.0.0.1", "::ffff:169.254.169.254"); IPv4-mapped and NAT64
// addresses are classified by the IPv4 address they carry.
AddressKind classify_address(const std::string& address);
const char* address_kind_name(AddressKind kind);

// nullopt when `address` may be fetched under `policy`, else a forbidden Error saying why.
std::optional<Error> check_address(const std::string& address, const SsrfPolicy& policy);

// The checks that need no network: scheme-less host name against the metadata names and the
// allowlist. `host` may carry IPv6 brackets.
std::optional<Error> check_host_name(const std::string& host, const SsrfPolicy& policy);

// check_host_name plus every address the host resolved to (all must pass: a DNS answer mixing a
// public and a metadata address is refused).
std::optional<Error> check_resolved(const std::string& host, const std::vector<std::string>& addresses,
                                    const SsrfPolicy& policy);

// Resolves `host` (getaddrinfo; a numeric host is not looked up), applies check_resolved and
// returns the numeric addresses (at least one) to pin the connection to.
// Errors: forbidden, upstream_error (DNS).
Result<std::vector<std::string>> resolve_guarded(const std::string& host, const SsrfPolicy& policy);

}  // namespace seke
