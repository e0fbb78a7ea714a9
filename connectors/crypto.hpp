#pragma once
// Hashing and encodings used across connectors (cache keys, content hashes, data URIs, webhooks).
#include <optional>
#include <string>

namespace seke {

// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(const std::string& bytes);
// Lower-case hex HMAC-SHA-256 of `data` under `key`.
std::string hmac_sha256_hex(const std::string& key, const std::string& data);
// Standard alphabet, padded.
std::string base64_encode(const std::string& bytes);
// Strict standard-alphabet decoding; whitespace is ignored, padding optional only when the
// length is otherwise unambiguous. nullopt on any other character or a bad length/padding.
std::optional<std::string> base64_decode(const std::string& text);

}  // namespace seke
