#include <boost/test/unit_test.hpp>

#include "plugin/records/feid.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

BOOST_AUTO_TEST_SUITE(feid_source)

BOOST_AUTO_TEST_CASE(the_dataset_and_its_id_are_kept_after_the_image) {
    FaceResult r;
    r.ok = true;
    r.labels.expression = "sad";
    FeidInput input;
    input.id = "rafdb/train_00001";
    input.image = "basic/Image/aligned/train_00001_aligned.jpg";
    input.result = &r;
    input.source = "rafdb";
    input.source_id = "train_00001";
    FeidRecord record = feid_record(test::test_knowledge(), input);
    auto json = record.to_json();
    BOOST_TEST(json["source"] == "rafdb");
    BOOST_TEST(json["source_id"] == "train_00001");
    auto it = json.begin();
    BOOST_TEST(it.key() == "id");
    BOOST_TEST((++it).key() == "image");
    BOOST_TEST((++it).key() == "source");
    BOOST_TEST((++it).key() == "source_id");

    // Read back typed, not as an unknown member, and written again byte for byte.
    auto parsed = FeidRecord::parse(json.dump());
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    BOOST_TEST(parsed->source == "rafdb");
    BOOST_TEST(parsed->source_id == "train_00001");
    BOOST_TEST(parsed->other.empty());
    BOOST_TEST(parsed->to_json().dump() == json.dump());
}

BOOST_AUTO_TEST_CASE(records_without_a_source_do_not_name_one) {
    FaceResult r;
    r.ok = true;
    FeidInput input;
    input.id = "x";
    input.image = "x.jpg";
    input.result = &r;
    auto json = feid_record(test::test_knowledge(), input).to_json();
    BOOST_TEST(!json.contains("source"));
    BOOST_TEST(!json.contains("source_id"));
    auto wrong = FeidRecord::parse(R"({"id": "x", "image": "x.jpg", "source": 4})");
    BOOST_TEST(!wrong.ok());
}

BOOST_AUTO_TEST_SUITE_END()
