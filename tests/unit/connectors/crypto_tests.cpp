#include <boost/test/unit_test.hpp>

#include <random>

#include "connectors/crypto.hpp"
#include "connectors/image.hpp"  // still exposes the crypto helpers to older includes

BOOST_AUTO_TEST_SUITE(connectors_crypto)

BOOST_AUTO_TEST_CASE(sha256_known_vectors) {
    BOOST_TEST(seke::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(seke::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(seke::sha256_hex(std::string("a\0b", 3)) != seke::sha256_hex("ab"));
}

BOOST_AUTO_TEST_CASE(hmac_sha256_rfc4231) {
    // RFC 4231 test case 2.
    BOOST_TEST(seke::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(base64_rfc4648_vectors) {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        BOOST_TEST(seke::base64_encode(plain) == encoded);
        auto decoded = seke::base64_decode(encoded);
        BOOST_REQUIRE(decoded.has_value());
        BOOST_TEST(*decoded == plain);
    }
}

BOOST_AUTO_TEST_CASE(base64_decode_is_strict_but_ignores_whitespace) {
    BOOST_TEST(seke::base64_decode("Zm9v\r\nYmFy\n").value() == "foobar");
    BOOST_TEST(seke::base64_decode(" Zm 8= ").value() == "fo");
    BOOST_TEST(seke::base64_decode("Zm8").value() == "fo");    // unpadded but unambiguous
    BOOST_TEST(!seke::base64_decode("Zm9v!").has_value());     // bad character
    BOOST_TEST(!seke::base64_decode("Z").has_value());         // 6 bits cannot make a byte
    BOOST_TEST(!seke::base64_decode("Zg=").has_value());       // short padding
    BOOST_TEST(!seke::base64_decode("Zg===").has_value());     // too much padding
    BOOST_TEST(!seke::base64_decode("Zg==Zg==").has_value());  // data after padding
    BOOST_TEST(!seke::base64_decode("Zh==").has_value());      // non-zero unused bits
    BOOST_TEST(!seke::base64_decode("Zm9v-_").has_value());    // URL alphabet is not accepted
}

BOOST_AUTO_TEST_CASE(base64_round_trips_binary) {
    std::mt19937 rng(7);
    for (std::size_t size = 0; size < 70; ++size) {
        std::string bytes(size, '\0');
        for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
        auto decoded = seke::base64_decode(seke::base64_encode(bytes));
        BOOST_REQUIRE(decoded.has_value());
        BOOST_TEST((*decoded == bytes));
    }
}

BOOST_AUTO_TEST_SUITE_END()
