#include <boost/test/unit_test.hpp>

#include "plugin/labeling/manifest.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

namespace {

std::string reason(const std::string& line) {
    auto job = parse_manifest_line(line, "/data", test::test_knowledge());
    return job.ok() ? "" : job.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(manifest_origin)

BOOST_AUTO_TEST_CASE(a_line_from_an_importer_keeps_its_origin_and_box) {
    auto job = parse_manifest_line(
        R"({"id": "bp4d/F001_T1_2440", "image": "bp4d/F001/T1/2440.jpg",
            "known": {"action_units": ["AU6"], "au_coded": ["AU6", "AU12"]}, "known_provenance": "source",
            "source": "bp4d", "source_id": "F001_T1_2440", "subject": "F001", "split": "part1",
            "box": [10.5, 20, 300, 280.25]})",
        "/data", test::test_knowledge());
    BOOST_TEST_REQUIRE(job.ok(), (job.ok() ? "" : job.error().message));
    BOOST_TEST(job->origin.source == "bp4d");
    BOOST_TEST(job->origin.source_id == "F001_T1_2440");
    BOOST_TEST(job->origin.subject == "F001");
    BOOST_TEST(job->origin.split == "part1");
    BOOST_TEST_REQUIRE(job->box.has_value());
    BOOST_TEST(job->box->x == 10.5);
    BOOST_TEST(job->box->y == 20.0);
    BOOST_TEST(job->box->w == 300.0);
    BOOST_TEST(job->box->h == 280.25);
}

BOOST_AUTO_TEST_CASE(lines_without_them_are_as_before) {
    auto job = parse_manifest_line(R"({"id": "a", "image": "a.jpg", "source": null})", "/data", test::test_knowledge());
    BOOST_TEST_REQUIRE(job.ok());
    BOOST_TEST(job->origin.source.empty());
    BOOST_TEST(job->origin.split.empty());
    BOOST_TEST(!job->box.has_value());
}

BOOST_AUTO_TEST_CASE(wrong_types_are_per_line_errors) {
    BOOST_TEST(reason(R"({"image": "a.jpg", "source": 3})") == "\"source\" must be a string");
    BOOST_TEST(reason(R"({"image": "a.jpg", "source_id": ["x"]})") == "\"source_id\" must be a string");
    BOOST_TEST(reason(R"({"image": "a.jpg", "subject": true})") == "\"subject\" must be a string");
    BOOST_TEST(reason(R"({"image": "a.jpg", "split": {}})") == "\"split\" must be a string");
    const std::string box_reason =
        "\"box\" must be [x, y, width, height]: four finite numbers in pixels, width and height > 0";
    BOOST_TEST(reason(R"({"image": "a.jpg", "box": [1, 2, 3]})") == box_reason);
    BOOST_TEST(reason(R"({"image": "a.jpg", "box": [1, 2, 0, 4]})") == box_reason);
    BOOST_TEST(reason(R"({"image": "a.jpg", "box": [1, 2, 3, -4]})") == box_reason);
    BOOST_TEST(reason(R"({"image": "a.jpg", "box": [1, "2", 3, 4]})") == box_reason);
    BOOST_TEST(reason(R"({"image": "a.jpg", "box": [1e300, 2, 3, 4]})") == box_reason);
    BOOST_TEST(reason(R"({"image": "a.jpg", "box": {"x": 1}})") == box_reason);
}

BOOST_AUTO_TEST_CASE(au_coded_is_an_accepted_known_key) {
    BOOST_TEST(reason(R"({"image": "a.jpg", "known": {"au_coded": ["AU1"]}})") == "");
    BOOST_TEST(reason(R"({"image": "a.jpg", "known": {"au_unknown": ["AU1"]}})") != "");
}

BOOST_AUTO_TEST_SUITE_END()
