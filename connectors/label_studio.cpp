#include "connectors/label_studio.hpp"
#include "connectors/curl_easy.hpp"
#include "verify/text.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>

#include "connectors/crypto.hpp"
#include "connectors/ssrf_guard.hpp"
#include "connectors/url_origin.hpp"

namespace seke {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr int kMaxRedirects = 5;
constexpr std::size_t kMaxJsonBytes = 8u << 20;
constexpr auto kRefreshMargin = std::chrono::seconds(30);
constexpr long kMaxBackoffMs = 10000;

// ---- text helpers ------------------------------------------------------------------------

bool starts_with(const std::string& text, std::string_view prefix) {
    return text.rfind(prefix, 0) == 0;
}

bool is_unreserved(unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void append_escaped(std::string& out, unsigned char c) {
    static const char* hex = "0123456789ABCDEF";
    out.push_back('%');
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
}

// For a query value: everything but unreserved characters and '/' is escaped.
std::string encode_query_value(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        if (is_unreserved(c) || c == '/') out.push_back(static_cast<char>(c));
        else append_escaped(out, c);
    }
    return out;
}

// Like requests' requote_uri: escapes what may not appear in a URL (spaces, non-ASCII, a stray
// '%') and leaves existing escapes and reserved characters alone, so nothing is escaped twice.
std::string requote(const std::string& url) {
    static const std::string_view keep = "!#$&'()*+,/:;=?@[]~-._";
    std::string out;
    for (std::size_t i = 0; i < url.size(); ++i) {
        auto c = static_cast<unsigned char>(url[i]);
        bool existing_escape =
            c == '%' && i + 2 < url.size() && hex_digit_value(url[i + 1]) >= 0 && hex_digit_value(url[i + 2]) >= 0;
        if (existing_escape) out.push_back('%');
        else if (std::isalnum(c) || keep.find(static_cast<char>(c)) != std::string_view::npos)
            out.push_back(static_cast<char>(c));
        else append_escaped(out, c);
    }
    return out;
}

std::string join_url(const std::string& base, const std::string& path) {
    std::string b = base;
    while (!b.empty() && b.back() == '/') b.pop_back();
    std::size_t skip = 0;
    while (skip < path.size() && path[skip] == '/') ++skip;
    return b + "/" + path.substr(skip);
}

std::string base64url_encode(const std::string& bytes) {
    std::string out = base64_encode(bytes);
    for (auto& c : out) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return out;  // padded: LS decodes with Python's urlsafe_b64decode, which insists on padding
}

std::optional<std::string> base64url_decode(std::string text) {
    for (auto& c : text) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (c == '+' || c == '/') return std::nullopt;
    }
    while (text.size() % 4 != 0) text.push_back('=');
    return base64_decode(text);
}

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- tokens --------------------------------------------------------------------------------

// The payload of a well-formed JWT (three segments, the header a JSON object with "alg").
std::optional<json> jwt_payload(const std::string& token) {
    auto first = token.find('.');
    if (first == std::string::npos) return std::nullopt;
    auto second = token.find('.', first + 1);
    if (second == std::string::npos || token.find('.', second + 1) != std::string::npos) return std::nullopt;
    auto header_text = base64url_decode(token.substr(0, first));
    if (!header_text) return std::nullopt;
    json header = json::parse(*header_text, nullptr, false);
    if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string()) return std::nullopt;
    auto payload_text = base64url_decode(token.substr(first + 1, second - first - 1));
    if (!payload_text) return json::object();
    json payload = json::parse(*payload_text, nullptr, false);
    return payload.is_object() ? payload : json::object();
}

std::optional<Clock::time_point> jwt_expiry(const json& payload) {
    auto it = payload.find("exp");
    if (it == payload.end() || !it->is_number()) return std::nullopt;
    auto seconds = static_cast<long long>(it->get<double>());
    return Clock::time_point(std::chrono::seconds(seconds));
}

// ---- one libcurl transfer --------------------------------------------------------------------

// Retry-After in whole seconds (the HTTP-date form is not honoured: the backoff applies).
std::optional<long> retry_after_seconds(const CurlResponse& response) {
    auto value = response.header("retry-after");
    if (!value) return std::nullopt;
    char* end = nullptr;
    long seconds = std::strtol(value->c_str(), &end, 10);
    if (end == value->c_str() || seconds < 0) return std::nullopt;
    return seconds;
}

// Second line of defence for hops off LS: whatever address curl is about to connect to (the
// pinned one, or one it resolved itself if the pin did not match) is checked again.
struct SocketGuard {
    const SsrfPolicy* policy = nullptr;
    std::optional<Error> refused;
};

curl_socket_t open_guarded_socket(void* user, curlsocktype, curl_sockaddr* address) {
    auto* guard = static_cast<SocketGuard*>(user);
    char text[INET6_ADDRSTRLEN] = {0};
    const void* where = nullptr;
    if (address->family == AF_INET) where = &reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr;
    else if (address->family == AF_INET6) where = &reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr;
    if (!where || !inet_ntop(address->family, where, text, sizeof text)) {
        guard->refused = make_error(errc::forbidden, "refusing to connect to a non-IP address");
        return CURL_SOCKET_BAD;
    }
    if (auto error = check_address(text, *guard->policy)) {
        guard->refused = std::move(error);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

struct Call {
    std::string method = "GET";
    std::string url;
    std::string body;       // sent as JSON when method is POST
    bool with_auth = true;  // attach LS credentials on hops to the LS origin
    std::size_t max_bytes = kMaxJsonBytes;
    long timeout_ms = 30000;
};

struct Reply {
    long status = 0;
    std::string body;
    std::string url;       // the hop that answered
    bool from_ls = false;  // that hop was the LS origin
    std::optional<long> retry_after_s;
};

std::string status_hint(long status, const std::string& url) {
    if (status == 401) return " (check LABEL_STUDIO_API_KEY: the token was refused)";
    if (status == 403 && url.find("/data/local-files") != std::string::npos)
        return " (Label Studio serves local files only with LOCAL_FILES_SERVING_ENABLED=true)";
    if (status == 403) return " (the API key's user may lack access to this project)";
    return "";
}

std::string detail_of(const std::string& body) {
    json parsed = json_depth_within(body) ? json::parse(body, nullptr, false) : json(json::value_t::discarded);
    if (parsed.is_object() && parsed.contains("detail") && parsed["detail"].is_string()) {
        std::string detail = parsed["detail"].get<std::string>();
        if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
        return ": " + detail;
    }
    return "";
}

Error status_error(const std::string& what, const Reply& reply) {
    return make_error(errc::upstream_error, what + ": " + redact_url(reply.url) + " answered HTTP " +
                                                std::to_string(reply.status) + detail_of(reply.body) +
                                                status_hint(reply.status, reply.url));
}

bool is_2xx(long status) {
    return status >= 200 && status <= 299;
}

Result<std::string> read_local_file(const std::filesystem::path& path, std::size_t max_bytes) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return make_error(errc::invalid_argument, "not a regular file: " + path.string());
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return make_error(errc::io_error, "cannot stat " + path.string() + ": " + ec.message());
    if (size > max_bytes)
        return make_error(errc::payload_too_large, "file " + path.string() + " has " + std::to_string(size) +
                                                       " bytes, over the limit of " + std::to_string(max_bytes));
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::io_error, "cannot open " + path.string());
    std::string bytes(static_cast<std::size_t>(size), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::uintmax_t>(in.gcount()) != size)
        return make_error(errc::io_error, "short read on " + path.string());
    return bytes;
}

bool path_within(const std::filesystem::path& path, const std::filesystem::path& root) {
    auto p = path.begin();
    for (auto r = root.begin(); r != root.end(); ++r, ++p) {
        if (r->empty()) continue;  // trailing separator of "/x/"
        if (p == path.end() || *p != *r) return false;
    }
    return true;
}

std::string shown_value(const std::string& value) {
    std::string shown = redact_url(value);
    return shown;
}

}  // namespace

// ---- free functions ----------------------------------------------------------------------------

LabelStudioTokenKind classify_label_studio_token(const std::string& token) {
    if (token.empty()) return LabelStudioTokenKind::none;
    auto payload = jwt_payload(token);
    if (!payload) return LabelStudioTokenKind::legacy;
    auto it = payload->find("token_type");
    if (it != payload->end() && it->is_string() && it->get<std::string>() == "refresh")
        return LabelStudioTokenKind::refresh;
    return LabelStudioTokenKind::jwt;
}

Result<std::filesystem::path> safe_join(const std::filesystem::path& root, const std::string& relative) {
    try {
        if (relative.find('\0') != std::string::npos)
            return make_error(errc::invalid_argument, "path contains a NUL byte");
        std::size_t skip = 0;
        while (skip < relative.size() && relative[skip] == '/') ++skip;
        std::filesystem::path rel(relative.substr(skip));
        if (rel.empty()) return make_error(errc::invalid_argument, "empty local file path");
        for (const auto& part : rel)
            if (part == "..")
                return make_error(errc::forbidden, "local file path '" + relative + "' has a '..' component");
        std::error_code ec;
        auto canon_root = std::filesystem::canonical(root, ec);
        if (ec) return make_error(errc::not_found, "local files root " + root.string() + " does not exist");
        auto joined = canon_root / rel;
        auto status = std::filesystem::symlink_status(joined, ec);
        if (ec || !std::filesystem::exists(status))
            return make_error(errc::not_found, "no local file " + joined.string());
        auto canon = std::filesystem::canonical(joined, ec);
        if (ec) return make_error(errc::not_found, "no local file " + joined.string() + " (dangling link)");
        if (!path_within(canon, canon_root))
            return make_error(errc::forbidden,
                              "local file path '" + relative + "' resolves outside " + canon_root.string());
        return canon;
    } catch (const std::exception& e) {
        return make_error(errc::internal, std::string("safe_join: ") + e.what());
    }
}

// ---- the client ----------------------------------------------------------------------------

struct LabelStudioClient::Impl {
    LabelStudioSettings settings;
    ImageLimits limits;
    LabelStudioTokenKind token_kind = LabelStudioTokenKind::none;
    std::optional<UrlOrigin> ls_origin;
    SsrfPolicy policy;

    std::mutex token_mutex;  // held across a refresh, so concurrent callers wait for one exchange
    std::string access_token;
    std::optional<Clock::time_point> access_expiry;

    Impl(LabelStudioSettings s, ImageLimits l) : settings(std::move(s)), limits(l) {
        token_kind = classify_label_studio_token(settings.api_key);
        if (starts_with_icase(settings.url, "http://") || starts_with_icase(settings.url, "https://"))
            ls_origin = parse_origin(settings.url);
        policy.allow_private_hosts = settings.allow_private_hosts;
        policy.host_allowlist = settings.host_allowlist;
    }

    // The LS base URL, or a config_error saying what to set. `what` names the value being fetched.
    Result<std::string> ls_base(const std::string& what) const {
        if (settings.url.empty())
            return make_error(errc::config_error,
                              what +
                                  " is served by Label Studio, but no Label Studio URL is configured: set "
                                  "LABEL_STUDIO_URL (e.g. http://label-studio:8080, reachable from seke) and "
                                  "LABEL_STUDIO_API_KEY");
        if (!ls_origin)
            return make_error(errc::config_error, "LABEL_STUDIO_URL '" + redact_url(settings.url) +
                                                      "' is not a valid URL starting with http:// or https://");
        return settings.url;
    }

    Result<std::string> ls_url(const std::string& what, const std::string& path) const {
        auto base = ls_base(what);
        if (!base) return base.error();
        if (token_kind == LabelStudioTokenKind::none)
            return make_error(errc::config_error, what + " needs Label Studio credentials: set LABEL_STUDIO_API_KEY");
        return requote(join_url(*base, path));
    }

    // Follows up to kMaxRedirects redirects by hand so each hop is guarded and pinned, and LS
    // credentials never leave the LS origin. A non-2xx answer is a Reply, not an Error.
    Result<Reply> transfer(const Call& call, const std::optional<std::string>& authorization) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(1L, call.timeout_ms));
        std::string url = requote(call.url);
        std::string method = call.method;
        std::string body = call.body;
        bool still_on_ls = true;  // auth is never re-attached once a redirect has left LS

        for (int hop = 0;; ++hop) {
            if (!starts_with_icase(url, "http://") && !starts_with_icase(url, "https://"))
                return make_error(errc::forbidden,
                                  "refusing to fetch " + redact_url(url) + ": only http and https are allowed");
            auto origin = parse_origin(url);
            if (!origin) return make_error(errc::invalid_argument, "not a valid URL: " + redact_url(url));
            bool on_ls = ls_origin && (*origin == *ls_origin);
            still_on_ls = still_on_ls && on_ls;

            std::string pin;
            if (!on_ls) {
                auto addresses = resolve_guarded(origin->host, policy);
                if (!addresses) {
                    Error error = addresses.error();
                    error.message += " (URL " + redact_url(url) + ")";
                    return error;
                }
                if (classify_address(origin->host) == AddressKind::invalid) {
                    pin = origin->host + ":" + std::to_string(origin->port) + ":";
                    for (std::size_t i = 0; i < addresses->size(); ++i) {
                        const auto& address = (*addresses)[i];
                        pin +=
                            (i ? "," : "") + (address.find(':') != std::string::npos ? "[" + address + "]" : address);
                    }
                }
            }

            long remaining = static_cast<long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
                    .count());
            if (remaining <= 0) return make_error(errc::upstream_timeout, "timed out fetching " + redact_url(url));

            auto handle = make_curl_easy();
            if (!handle) return make_error(errc::internal, "curl_easy_init failed");
            CURL* h = handle.get();
            CurlResponse sink;
            sink.max_bytes = call.max_bytes;
            curl_slist* headers = nullptr;
            curl_slist* resolve = nullptr;
            if (still_on_ls && call.with_auth && authorization)
                headers = curl_slist_append(headers, ("Authorization: " + *authorization).c_str());
            if (method == "POST") headers = curl_slist_append(headers, "Content-Type: application/json");
            headers = curl_slist_append(headers, "Accept: application/json, */*");
            if (!pin.empty()) resolve = curl_slist_append(resolve, pin.c_str());
            std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers_guard(headers, &curl_slist_free_all);
            std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> resolve_guard(resolve, &curl_slist_free_all);

            TransferOptions options;
            options.timeout_ms = remaining;
            options.verify_tls = settings.verify_ssl;
            set_transfer_options(h, url, sink, options);
            curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // hops are followed by hand, see above
            curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
            curl_easy_setopt(h, CURLOPT_PROXY, "");  // direct only: a proxy would defeat the pinning
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
            if (resolve) curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
            SocketGuard socket_guard;
            socket_guard.policy = &policy;
            if (!on_ls) {
                curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &open_guarded_socket);
                curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &socket_guard);
            }
            if (method == "POST") {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
            }

            CURLcode code = curl_easy_perform(h);
            if (socket_guard.refused) {
                Error error = *socket_guard.refused;
                error.message += " (URL " + redact_url(url) + ")";
                return error;
            }
            if (sink.over_cap(code))
                return make_error(errc::payload_too_large, "the answer of " + redact_url(url) +
                                                               " is over the limit of " +
                                                               std::to_string(call.max_bytes) + " bytes");
            if (code == CURLE_OPERATION_TIMEDOUT)
                return make_error(errc::upstream_timeout, "timed out fetching " + redact_url(url));
            if (code != CURLE_OK) {
                std::string hint;
                if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
                    code == CURLE_SSL_CONNECT_ERROR)
                    hint = " (for a self-signed certificate set VERIFY_SSL=false)";
                return make_error(errc::upstream_error,
                                  "cannot fetch " + redact_url(url) + ": " + sink.failure(code) + hint);
            }
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            char* location = nullptr;
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location);
            bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
            if (redirect && location && *location) {
                if (hop >= kMaxRedirects)
                    return make_error(errc::upstream_error, "too many redirects (over " +
                                                                std::to_string(kMaxRedirects) + ") fetching " +
                                                                redact_url(call.url));
                if (status == 303 || (method == "POST" && status != 307 && status != 308)) {
                    method = "GET";
                    body.clear();
                }
                url = location;
                continue;
            }
            Reply reply;
            reply.status = status;
            reply.body = std::move(sink.body);
            reply.url = url;
            reply.from_ls = on_ls;
            reply.retry_after_s = retry_after_seconds(sink);
            return reply;
        }
    }

    // The Authorization value for LS, exchanging a personal access token when needed.
    // `stale` is the value that just got a 401: it is dropped and a fresh one fetched.
    Result<std::optional<std::string>> authorization(const std::optional<std::string>& stale = std::nullopt) {
        switch (token_kind) {
            case LabelStudioTokenKind::none: return std::optional<std::string>();
            case LabelStudioTokenKind::legacy: return std::optional<std::string>("Token " + settings.api_key);
            case LabelStudioTokenKind::jwt: return std::optional<std::string>("Bearer " + settings.api_key);
            case LabelStudioTokenKind::refresh: break;
        }
        std::lock_guard lock(token_mutex);
        if (stale && !access_token.empty() && *stale == "Bearer " + access_token) access_token.clear();
        bool fresh = !access_token.empty() && (!access_expiry || Clock::now() + kRefreshMargin < *access_expiry);
        if (!fresh) {
            auto exchanged = exchange_refresh_token();
            if (!exchanged) return exchanged.error();
        }
        return std::optional<std::string>("Bearer " + access_token);
    }

    // POST {LS}/api/token/refresh/ {"refresh": key} -> {"access": jwt}. Caller holds token_mutex.
    Result<bool> exchange_refresh_token() {
        auto payload = jwt_payload(settings.api_key);
        if (payload) {
            auto expiry = jwt_expiry(*payload);
            if (expiry && *expiry <= Clock::now())
                return make_error(
                    errc::unauthorized,
                    "the Label Studio personal access token in LABEL_STUDIO_API_KEY has expired: create a new one");
        }
        auto base = ls_base("the Label Studio token exchange");
        if (!base) return base.error();
        Call call;
        call.method = "POST";
        call.url = join_url(*base, "/api/token/refresh/");
        call.body = dump(json{{"refresh", settings.api_key}});
        call.with_auth = false;
        call.timeout_ms = settings.timeout_ms;
        auto reply = transfer(call, std::nullopt);
        if (!reply) return reply.error();
        if (reply->status == 401 || reply->status == 403)
            return make_error(errc::unauthorized, "Label Studio refused the personal access token at " +
                                                      redact_url(reply->url) + " (HTTP " +
                                                      std::to_string(reply->status) +
                                                      "): it may be expired or revoked; check LABEL_STUDIO_API_KEY");
        if (!is_2xx(reply->status)) return status_error("exchanging the Label Studio personal access token", *reply);
        json answer =
            json_depth_within(reply->body) ? json::parse(reply->body, nullptr, false) : json(json::value_t::discarded);
        if (!answer.is_object() || !answer.contains("access") || !answer["access"].is_string() ||
            answer["access"].get<std::string>().empty())
            return make_error(errc::bad_json, "the answer of " + redact_url(reply->url) + " has no \"access\" token");
        access_token = answer["access"].get<std::string>();
        access_expiry.reset();
        if (auto access_payload = jwt_payload(access_token)) access_expiry = jwt_expiry(*access_payload);
        return true;
    }

    // A request that may carry LS credentials; a 401 from LS with an exchanged token triggers
    // one fresh exchange and one retry.
    Result<Reply> send(const Call& call) {
        std::optional<std::string> auth;
        if (call.with_auth) {
            auto value = authorization();
            if (!value) return value.error();
            auth = *value;
        }
        auto reply = transfer(call, auth);
        if (reply && reply->status == 401 && reply->from_ls && auth && token_kind == LabelStudioTokenKind::refresh) {
            auto renewed = authorization(auth);
            if (!renewed) return renewed.error();
            reply = transfer(call, *renewed);
        }
        return reply;
    }

    Result<std::string> download(const std::string& url, const std::string& what) {
        Call call;
        call.url = url;
        call.max_bytes = limits.max_bytes;
        call.timeout_ms = limits.download_timeout_ms;
        auto reply = send(call);
        if (!reply) return reply.error();
        if (!is_2xx(reply->status)) return status_error("downloading " + what, *reply);
        return std::move(reply->body);
    }

    // /data/upload/<pid>/<file>: the storage proxy first (works for cloud-backed default
    // storage), then the legacy path (FileSystemStorage, or LS with USE_NGINX_FOR_UPLOADS).
    Result<std::string> fetch_upload(const std::string& value) {
        std::string path = value.substr(0, value.find_first_of("?#"));
        // upload/<pid>/<file>
        auto upload_path = percent_decode(path.substr(std::string("/data/").size()), false);
        if (!upload_path)
            return make_error(errc::invalid_argument,
                              "uploaded file " + shown_value(value) + " has a malformed or NUL (%00) percent-escape");
        auto proxy = ls_url("uploaded file " + shown_value(value),
                            "/storage-data/uploaded/?filepath=" + encode_query_value(*upload_path));
        if (!proxy) return proxy.error();
        Call call;
        call.url = *proxy;
        call.max_bytes = limits.max_bytes;
        call.timeout_ms = limits.download_timeout_ms;
        auto first = send(call);
        if (!first) return first.error();
        if (is_2xx(first->status)) return std::move(first->body);
        auto legacy = ls_url("uploaded file", path);
        if (!legacy) return legacy.error();
        call.url = *legacy;
        auto second = send(call);
        if (!second) return second.error();
        if (is_2xx(second->status)) return std::move(second->body);
        Error error = status_error("downloading uploaded file " + shown_value(value), *second);
        error.message +=
            "; the storage proxy " + redact_url(first->url) + " answered HTTP " + std::to_string(first->status);
        return error;
    }

    Result<std::string> fetch_local_files(const std::string& value) {
        std::string encoded = value.substr(value.find("?d=") + 3);
        auto decoded = percent_decode(encoded, false);
        if (!decoded)
            return make_error(errc::invalid_argument,
                              "local-storage path '" + encoded + "' has a malformed or NUL (%00) percent-escape");
        const std::string& rel = *decoded;
        // Without a configured root nothing is read from disk: Label Studio serves its own files.
        if (!settings.local_files_root.empty()) {
            auto local = safe_join(settings.local_files_root, rel);
            if (local) return read_local_file(*local, limits.max_bytes);
            if (local.error().code != errc::not_found) return local.error();
        }
        auto url = ls_url("local-storage file " + rel, value);
        if (!url) return url.error();
        return download(*url, "local-storage file " + rel);
    }

    Result<std::string> fetch_cloud(const std::string& value, std::optional<long long> task_id) {
        std::string scheme = value.substr(0, value.find("://"));
        if (!task_id)
            return make_error(errc::invalid_argument, "cloud storage URI " + shown_value(value) +
                                                          " needs the task id to ask Label Studio for a presigned URL");
        auto url = ls_url(
            "cloud storage URI " + shown_value(value),
            "/tasks/" + std::to_string(*task_id) + "/presign/?fileuri=" + encode_query_value(base64url_encode(value)));
        if (!url) return url.error();
        return download(*url, "cloud storage URI " + shown_value(value));
    }

    // A plain path is read only under a configured root, and the answer for a path outside it is
    // the same whether or not the file exists: the error text must not tell what is on the host.
    Result<std::string> fetch_local_path(const std::string& value) {
        const std::string not_readable = "task data value '" + shown_value(value) +
                                         "' is not a URL or a Label Studio path, and plain paths are read only under "
                                         "LOCAL_FILES_DOCUMENT_ROOT (--local-files-root)";
        if (settings.local_files_root.empty()) return make_error(errc::forbidden, not_readable + ", which is not set");
        std::error_code ec;
        auto root = std::filesystem::canonical(settings.local_files_root, ec);
        if (ec) return make_error(errc::forbidden, not_readable);
        const std::filesystem::path path = std::filesystem::path(value).lexically_normal();
        const std::filesystem::path given_root = std::filesystem::path(settings.local_files_root).lexically_normal();
        if (!path.is_absolute() || !(path_within(path, root) || path_within(path, given_root)))
            return make_error(errc::forbidden, not_readable);
        auto canon = std::filesystem::canonical(path, ec);
        if (ec) return make_error(errc::not_found, "no file " + value + " under LOCAL_FILES_DOCUMENT_ROOT");
        if (!path_within(canon, root)) return make_error(errc::forbidden, not_readable);  // a link out of the root
        return read_local_file(canon, limits.max_bytes);
    }

    Result<std::string> fetch(const std::string& raw, std::optional<long long> task_id) {
        if (raw.empty()) return make_error(errc::invalid_argument, "empty task data value");
        if (starts_with_icase(raw, "data:")) return fetch_image_bytes(raw, limits);
        std::string value = raw;
        if (starts_with(value, "upload/") || starts_with(value, "/upload/"))
            value = "/data/" + value.substr(value[0] == '/' ? 1 : 0);
        if (starts_with(value, "/data/upload/")) return fetch_upload(value);
        if (starts_with(value, "/storage-data/uploaded") || starts_with(value, "storage-data/uploaded")) {
            auto url = ls_url("uploaded file " + shown_value(value), value);
            if (!url) return url.error();
            return download(*url, "uploaded file");
        }
        if (starts_with(value, "/data/") && value.find("?d=") != std::string::npos) return fetch_local_files(value);
        if (starts_with_icase(value, "s3://") || starts_with_icase(value, "gs://") ||
            starts_with_icase(value, "azure-blob://"))
            return fetch_cloud(value, task_id);
        if (starts_with_icase(value, "http://") || starts_with_icase(value, "https://"))
            return download(value, "image");
        auto scheme_end = value.find("://");
        if (scheme_end != std::string::npos && scheme_end < 20)
            return make_error(errc::invalid_argument,
                              "unsupported URL scheme in task data value '" + shown_value(value) + "'");
        return fetch_local_path(value);
    }

    // GET/POST on LS with retries on network errors, 429 and 5xx.
    Result<json> api_call(const Call& call) {
        for (int attempt = 0;; ++attempt) {
            auto reply = send(call);
            bool retryable =
                reply ? (reply->status == 429 || reply->status >= 500)
                      : (reply.error().code == errc::upstream_error || reply.error().code == errc::upstream_timeout);
            if (retryable && attempt < settings.max_retries) {
                long wait_ms =
                    std::min(kMaxBackoffMs, static_cast<long>(settings.retry_base_ms) << std::min(attempt, 10));
                if (reply && reply->retry_after_s) wait_ms = std::min(kMaxBackoffMs, *reply->retry_after_s * 1000);
                std::this_thread::sleep_for(std::chrono::milliseconds(std::max(0L, wait_ms)));
                continue;
            }
            if (!reply) return reply.error();
            if (!is_2xx(reply->status)) {
                Error error = status_error(call.method + " " + redact_url(call.url), *reply);
                if (attempt > 0) error.message += " (after " + std::to_string(attempt + 1) + " attempts)";
                return error;
            }
            if (reply->body.empty()) return json();
            json parsed = json_depth_within(reply->body) ? json::parse(reply->body, nullptr, false)
                                                         : json(json::value_t::discarded);
            if (parsed.is_discarded())
                return make_error(errc::bad_json, "the answer of " + redact_url(reply->url) + " is not JSON");
            return parsed;
        }
    }
};

LabelStudioClient::LabelStudioClient(LabelStudioSettings settings, ImageLimits limits)
    : impl_(std::make_unique<Impl>(std::move(settings), limits)) {}

LabelStudioClient::~LabelStudioClient() = default;

const LabelStudioSettings& LabelStudioClient::settings() const noexcept {
    return impl_->settings;
}

LabelStudioTokenKind LabelStudioClient::token_kind() const noexcept {
    return impl_->token_kind;
}

Result<std::string> LabelStudioClient::fetch_task_media(const std::string& value, std::optional<long long> task_id) {
    try {
        return impl_->fetch(value, task_id);
    } catch (const std::exception& e) {
        return make_error(errc::internal, std::string("fetching task media: ") + e.what());
    }
}

Result<nlohmann::json> LabelStudioClient::create_prediction(long long task_id, const nlohmann::json& prediction) {
    try {
        if (!prediction.is_object() || !prediction.contains("result") || !prediction["result"].is_array())
            return make_error(errc::invalid_argument, "a prediction needs a \"result\" list");
        json body = {{"task", task_id}, {"result", prediction["result"]}};
        if (prediction.contains("score") && prediction["score"].is_number()) body["score"] = prediction["score"];
        if (prediction.contains("model_version") && prediction["model_version"].is_string())
            body["model_version"] = prediction["model_version"];
        auto url = impl_->ls_url("posting a prediction", "/api/predictions/");
        if (!url) return url.error();
        Call call;
        call.method = "POST";
        call.url = *url;
        call.body = dump(body);
        call.timeout_ms = impl_->settings.timeout_ms;
        return impl_->api_call(call);
    } catch (const std::exception& e) {
        return make_error(errc::internal, std::string("posting a prediction: ") + e.what());
    }
}

Result<nlohmann::json> LabelStudioClient::get_json(const std::string& path) {
    try {
        if (path.empty() || path[0] != '/')
            return make_error(errc::invalid_argument,
                              "a Label Studio API path must start with '/': " + redact_url(path));
        auto url = impl_->ls_url("GET " + redact_url(path), path);
        if (!url) return url.error();
        Call call;
        call.url = *url;
        call.timeout_ms = impl_->settings.timeout_ms;
        return impl_->api_call(call);
    } catch (const std::exception& e) {
        return make_error(errc::internal, std::string("Label Studio GET: ") + e.what());
    }
}

}  // namespace seke
