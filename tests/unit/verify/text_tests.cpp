#include "verify/text.hpp"  // first: the header is self-contained

#include <boost/test/unit_test.hpp>

using namespace seke;

BOOST_AUTO_TEST_SUITE(verify_text)

BOOST_AUTO_TEST_CASE(hex_digits_of_either_case) {
    BOOST_TEST(hex_digit_value('0') == 0);
    BOOST_TEST(hex_digit_value('9') == 9);
    BOOST_TEST(hex_digit_value('a') == 10);
    BOOST_TEST(hex_digit_value('F') == 15);
    BOOST_TEST(hex_digit_value('g') == -1);
    BOOST_TEST(hex_digit_value('%') == -1);
}

BOOST_AUTO_TEST_CASE(percent_decode_decodes_escapes_and_plus_only_when_asked) {
    BOOST_TEST(percent_decode("", false).value_or("x") == "");
    BOOST_TEST(percent_decode("dir%2F1%20a.jpg", false).value_or("") == "dir/1 a.jpg");
    BOOST_TEST(percent_decode("%e2%82%ac", false).value_or("") == "\xe2\x82\xac");
    BOOST_TEST(percent_decode("a+b", false).value_or("") == "a+b");
    BOOST_TEST(percent_decode("a+b%2B", true).value_or("") == "a b+");
}

BOOST_AUTO_TEST_CASE(percent_decode_refuses_nul_and_malformed_escapes) {
    for (const char* bad : {"a%00b", "%00", "%zz", "a%4", "a%", "%%41", "%4g"})
        BOOST_TEST(!percent_decode(bad, false).has_value(), bad);
    BOOST_TEST(!percent_decode("a%00b", true).has_value());
}

BOOST_AUTO_TEST_CASE(utf8_sequences_are_well_formed_or_not_at_all) {
    BOOST_TEST(utf8_sequence_length("a") == 1u);
    BOOST_TEST(utf8_sequence_length("\xC3\xA9x") == 2u);
    BOOST_TEST(utf8_sequence_length("\xE2\x82\xAC") == 3u);
    BOOST_TEST(utf8_sequence_length("\xF0\x9F\x98\x80") == 4u);
    // Empty, a stray continuation, a cut sequence, overlong forms, a surrogate, past U+10FFFF,
    // and lead bytes that never start a sequence.
    for (std::string_view bad : {"", "\x80", "\xC3", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                 "\xF5\x80\x80\x80", "\xFF"})
        BOOST_TEST(utf8_sequence_length(bad) == 0u, "bytes of size " << bad.size());
    BOOST_TEST(well_formed_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
    BOOST_TEST(well_formed_utf8(""));
    BOOST_TEST(!well_formed_utf8("ok\xED\xA0\x80"));
}

BOOST_AUTO_TEST_CASE(json_depth_counts_arrays_and_objects_but_not_brackets_in_strings) {
    auto nested = [](std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); };
    BOOST_TEST(json_depth_within(nested(kMaxJsonDepth)));
    BOOST_TEST(!json_depth_within(nested(kMaxJsonDepth + 1)));
    BOOST_TEST(!json_depth_within(std::string(1'000'000, '[')));  // cut short: still refused
    BOOST_TEST(json_depth_within(R"({"a": {"b": [1, {"c": "[[[[\"{{{{"}]}})", 4));
    BOOST_TEST(!json_depth_within(R"({"a": {"b": [1, {"c": 2}]}})", 3));
    BOOST_TEST(json_depth_within("]]]}}} not json", 0));
    BOOST_TEST(json_depth_within(""));
}

BOOST_AUTO_TEST_SUITE_END()
