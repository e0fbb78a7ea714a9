#include "verify/errors.hpp"

namespace seke {

std::string_view errc_name(errc code) noexcept {
    switch (code) {
        case errc::invalid_argument: return "invalid_argument";
        case errc::bad_json: return "bad_json";
        case errc::config_error: return "config_error";
        case errc::not_found: return "not_found";
        case errc::method_not_allowed: return "method_not_allowed";
        case errc::unauthorized: return "unauthorized";
        case errc::forbidden: return "forbidden";
        case errc::payload_too_large: return "payload_too_large";
        case errc::unsupported_media: return "unsupported_media";
        case errc::image_error: return "image_error";
        case errc::no_face: return "no_face";
        case errc::upstream_error: return "upstream_error";
        case errc::upstream_timeout: return "upstream_timeout";
        case errc::malformed_answer: return "malformed_answer";
        case errc::io_error: return "io_error";
        case errc::cancelled: return "cancelled";
        case errc::overloaded: return "overloaded";
        case errc::internal: return "internal";
    }
    return "internal";
}

}  // namespace seke
