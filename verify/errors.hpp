#pragma once
// One error vocabulary for every layer: an enum, a message, and (in plugin/) one mapping to HTTP.
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace seke {

enum class errc {
    invalid_argument,    // a request or option that does not make sense
    bad_json,            // body or file is not the JSON we need
    config_error,        // a config key with a bad value
    not_found,           // route, file, item or function that does not exist
    method_not_allowed,  // route exists, method does not
    unauthorized,        // credentials missing or wrong
    forbidden,           // refused by policy (SSRF guard, path escaping a root)
    payload_too_large,   // body, image bytes or pixels over a limit
    unsupported_media,   // not an image, or an image format we cannot decode
    image_error,         // truncated or corrupt image
    no_face,             // face detection required and none found
    upstream_error,      // the model or a platform answered with an error
    upstream_timeout,    // the model or a platform did not answer in time
    malformed_answer,    // the model answered, but not with what was asked
    io_error,            // disk or database
    cancelled,           // stopped by shutdown or Ctrl-C
    overloaded,          // too much work waits already: refused, try again later
    internal,            // a bug
};

std::string_view errc_name(errc code) noexcept;

struct Error {
    errc code = errc::internal;
    std::string message;
};

// A value or an Error. Small on purpose: C++20 has no std::expected.
template <class T>
class Result {
  public:
    Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<1>(state_); }

  private:
    std::variant<T, Error> state_;
};

inline Error make_error(errc code, std::string message) {
    return Error{code, std::move(message)};
}

}  // namespace seke
