#include <boost/test/unit_test.hpp>

#include "plugin/labeling/manifest.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

BOOST_AUTO_TEST_SUITE(plugin_input)

BOOST_AUTO_TEST_CASE(manifest_line_with_known_labels) {
    auto job = parse_manifest_line(
        R"({"id": "a1", "image": "img/a1.jpg", "known": {"expression": "Happy", "valence": 0.5, "arousal": 0.1, "action_units": ["au12", "6"]}})",
        "/data", test::test_knowledge());
    BOOST_TEST_REQUIRE(job.ok());
    BOOST_TEST(job->id == "a1");
    BOOST_TEST(job->source == "/data/img/a1.jpg");
    BOOST_TEST(*job->known.expression == "happy");
    BOOST_TEST(*job->known.valence == 0.5);
    BOOST_TEST((*job->known.action_units == std::vector<std::string>{"AU12", "AU6"}));
    BOOST_TEST((job->known_provenance.expression == Provenance::source));
    BOOST_TEST((job->known_provenance.va == Provenance::source));
}

BOOST_AUTO_TEST_CASE(urls_and_absolute_paths_are_kept) {
    auto url =
        parse_manifest_line(R"({"id": "u", "image": "https://example.org/x.jpg"})", "/data", test::test_knowledge());
    BOOST_TEST_REQUIRE(url.ok());
    BOOST_TEST(url->source == "https://example.org/x.jpg");
    auto human = parse_manifest_line(
        R"({"id": 7, "image": "/abs/x.png", "known": {"expression": "sad"}, "known_provenance": "human"})", "/data",
        test::test_knowledge());
    BOOST_TEST_REQUIRE(human.ok());
    BOOST_TEST(human->id == "7");
    BOOST_TEST(human->source == "/abs/x.png");
    BOOST_TEST((human->known_provenance.expression == Provenance::human));
}

BOOST_AUTO_TEST_CASE(bad_lines_give_reasons) {
    const auto& k = test::test_knowledge();
    auto reason = [&](const std::string& line) {
        auto job = parse_manifest_line(line, "/d", k);
        BOOST_TEST_REQUIRE(!job.ok(), line);
        return job.error().message;
    };
    BOOST_TEST(reason("{not json").find("JSON") != std::string::npos);
    BOOST_TEST(reason("[1,2]").find("object") != std::string::npos);
    BOOST_TEST(reason(R"({"id": "x"})").find("image") != std::string::npos);
    BOOST_TEST(reason(R"({"id": "x", "image": "a.jpg", "known": {"expression": "bored"}})").find("bored") !=
               std::string::npos);
    BOOST_TEST(reason(R"({"id": "x", "image": "a.jpg", "known": {"valence": 3}})").find("[-1, 1]") !=
               std::string::npos);
    BOOST_TEST(reason(R"({"id": "x", "image": "a.jpg", "known": {"action_units": ["AU99"]}})").find("AU99") !=
               std::string::npos);
    BOOST_TEST(reason(R"({"id": "x", "image": "a.jpg", "known": {"mood": "ok"}})").find("mood") != std::string::npos);
    // known.dump() used to recurse once per level: a line nested 200,000 deep overflowed the stack.
    BOOST_TEST(reason(R"({"image": "a.jpg", "known": {"expression": )" + std::string(200'000, '[') +
                      std::string(200'000, ']') + "}}")
                   .find("deeper") != std::string::npos);
    BOOST_TEST(reason(R"({"id": "x", "image": "a.jpg", "known_provenance": "model"})").find("known_provenance") !=
               std::string::npos);
    // The face expert's labels are guesses, not facts a manifest may carry.
    BOOST_TEST(reason(R"({"id": "x", "image": "a.jpg", "known_provenance": "expert"})").find("known_provenance") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(manifest_file_keeps_good_lines_and_reports_bad_ones) {
    test::TempDir dir;
    test::write_file(dir / "m.jsonl",
                     "{\"id\": \"a\", \"image\": \"a.jpg\"}\n\n{broken\n{\"id\": \"a\", \"image\": \"b.jpg\"}\n"
                     "{\"id\": \"c\", \"image\": \"c.jpg\"}\n");
    auto input = read_label_input((dir / "m.jsonl").string(), test::test_knowledge());
    BOOST_TEST_REQUIRE(input.ok());
    BOOST_TEST(input->jobs.size() == 2u);
    BOOST_TEST_REQUIRE(input->problems.size() == 2u);
    BOOST_TEST(input->problems[0].line == 3);
    BOOST_TEST(input->problems[1].line == 4);
    BOOST_TEST(input->problems[1].reason.find("duplicate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(folder_lists_images_recursively) {
    test::TempDir dir;
    std::filesystem::create_directories(dir / "sub");
    test::write_file(dir / "b.jpg", "x");
    test::write_file(dir / "sub" / "a.PNG", "x");
    test::write_file(dir / "notes.txt", "x");
    auto input = read_label_input(dir.path().string(), test::test_knowledge());
    BOOST_TEST_REQUIRE(input.ok());
    BOOST_TEST_REQUIRE(input->jobs.size() == 2u);
    BOOST_TEST(input->jobs[0].id == "b");
    BOOST_TEST(input->jobs[1].id == "sub/a");
    auto missing = read_label_input((dir / "nope.jsonl").string(), test::test_knowledge());
    BOOST_TEST(!missing.ok());
}

BOOST_AUTO_TEST_SUITE_END()
