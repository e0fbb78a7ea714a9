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

// BP4D codes 12 of the knowledge's 17 AUs.
const char* const kBp4dCoded =
    R"(["AU1", "AU2", "AU4", "AU6", "AU7", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"])";

BOOST_AUTO_TEST_CASE(au_coded_makes_the_au_level_known_in_part) {
    const auto& k = test::test_knowledge();
    auto job = parse_manifest_line(
        std::string(R"({"id": "b", "image": "b.jpg", "known": {"action_units": ["au12", "AU6"], "au_coded": )") +
            kBp4dCoded + "}}",
        "/d", k);
    BOOST_TEST_REQUIRE(job.ok(), (job.ok() ? "" : job.error().message));
    // Present and coded in the knowledge's order; the five others are unknown.
    BOOST_TEST((*job->known.action_units == std::vector<std::string>{"AU6", "AU12"}));
    BOOST_TEST_REQUIRE(job->known.au_coded.has_value());
    BOOST_TEST(job->known.au_coded->size() == 12u);
    BOOST_TEST(job->known.au_partly_known());
    BOOST_TEST(!job->known.has(Level::au));
    BOOST_TEST(job->known.judges_au("AU1"));   // coded absent
    BOOST_TEST(!job->known.judges_au("AU5"));  // not coded
    BOOST_TEST((job->known_provenance.au == Provenance::source));

    // au_coded without action_units: every coded AU absent.
    auto absent =
        parse_manifest_line(R"({"id": "c", "image": "c.jpg", "known": {"au_coded": ["AU1", "AU2"]}})", "/d", k);
    BOOST_TEST_REQUIRE(absent.ok(), (absent.ok() ? "" : absent.error().message));
    BOOST_TEST(absent->known.action_units->empty());
    BOOST_TEST((*absent->known.au_coded == std::vector<std::string>{"AU1", "AU2"}));

    // Nothing coded: no AU prior at all, as without the key.
    auto none = parse_manifest_line(R"({"id": "n", "image": "n.jpg", "known": {"au_coded": []}})", "/d", k);
    BOOST_TEST_REQUIRE(none.ok(), (none.ok() ? "" : none.error().message));
    BOOST_TEST(!none->known.action_units.has_value());
    BOOST_TEST(!none->known.au_coded.has_value());
    BOOST_TEST((none->known_provenance.au == Provenance::model));
}

BOOST_AUTO_TEST_CASE(absent_or_complete_au_coded_means_every_au_coded) {
    const auto& k = test::test_knowledge();
    auto plain =
        parse_manifest_line(R"({"id": "p", "image": "p.jpg", "known": {"action_units": ["AU12", "AU6"]}})", "/d", k);
    BOOST_TEST_REQUIRE(plain.ok());
    BOOST_TEST(!plain->known.au_coded.has_value());
    BOOST_TEST(plain->known.has(Level::au));
    BOOST_TEST(plain->known.judges_au("AU5"));
    BOOST_TEST((*plain->known.action_units == std::vector<std::string>{"AU12", "AU6"}));  // as given, as before

    std::string every = "[";
    for (const auto& au : k.action_units) every += (every.size() > 1 ? ", \"" : "\"") + au.code + "\"";
    every += "]";
    auto all = parse_manifest_line(
        R"({"id": "a", "image": "a.jpg", "known": {"action_units": ["AU6"], "au_coded": )" + every + "}}", "/d", k);
    BOOST_TEST_REQUIRE(all.ok(), (all.ok() ? "" : all.error().message));
    BOOST_TEST(!all->known.au_coded.has_value());
    BOOST_TEST(all->known.has(Level::au));
}

BOOST_AUTO_TEST_CASE(bad_au_coded_gives_a_reason) {
    const auto& k = test::test_knowledge();
    auto reason = [&](const std::string& known) {
        auto job = parse_manifest_line(R"({"id": "x", "image": "a.jpg", "known": )" + known + "}", "/d", k);
        BOOST_TEST_REQUIRE(!job.ok(), known);
        return job.error().message;
    };
    BOOST_TEST(reason(R"({"au_coded": "AU1"})") == "known.au_coded must be an array of AU codes");
    BOOST_TEST(reason(R"({"au_coded": {"AU1": true}})") == "known.au_coded must be an array of AU codes");
    BOOST_TEST(reason(R"({"au_coded": [1, 2]})") == "known.au_coded must be an array of AU codes");
    BOOST_TEST(reason(R"({"au_coded": null})") == "known.au_coded must be an array of AU codes");
    BOOST_TEST(reason(R"({"au_coded": ["AU1", "AU99"]})") ==
               "known.au_coded: \"AU99\" is not one of the configured action units");
    BOOST_TEST(reason(R"({"action_units": ["AU5"], "au_coded": ["AU1", "AU2"]})") ==
               "known.action_units: \"AU5\" is not in known.au_coded (a present AU must be one the source coded)");
    BOOST_TEST(reason(R"({"action_units": ["AU1"], "au_coded": []})").find("not in known.au_coded") !=
               std::string::npos);
    BOOST_TEST(reason(R"({"action_units": "AU1", "au_coded": ["AU1"]})") ==
               "known.action_units must be an array of AU codes");
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
