#include <boost/test/unit_test.hpp>

#include "tests/unit/datasets/import_fixture.hpp"

using namespace seke;
using namespace seke::test;

namespace {

// The reference's CK+ fixture: a disgust peak with three AUs, and a sequence with no emotion file.
void write_ckplus(const std::filesystem::path& root) {
    touch(root / "cohn-kanade-images/S005/001/S005_001_00000001.png");
    touch(root / "cohn-kanade-images/S005/001/S005_001_00000011.png");
    put(root / "Emotion/S005/001/S005_001_00000011_emotion.txt", "   3.0000000e+00\n");
    put(root / "FACS/S005/001/S005_001_00000011_facs.txt",
        "   9.0000000e+00   3.0000000e+00\n   1.5000000e+01   0.0000000e+00\n   1.7000000e+01   2.0000000e+00\n");
    touch(root / "cohn-kanade-images/S010/002/S010_002_00000014.png");
    put(root / "FACS/S010/002/S010_002_00000014_facs.txt",
        "   1.2000000e+01   4.0000000e+00\n   2.7000000e+01   0.0000000e+00\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets_ckplus)

BOOST_AUTO_TEST_CASE(peak_frames_keep_the_emotion_and_every_au_as_coded) {
    TempDir dir;
    write_ckplus(dir / "ckplus");
    auto imported = run_importer(import_options("ckplus", dir / "ckplus", dir / "ck.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 2u);

    const auto& disgust = imported.by_id.at("ckplus/S005_001_00000011");
    BOOST_TEST(disgust["image"] == "ckplus/cohn-kanade-images/S005/001/S005_001_00000011.png");
    BOOST_TEST(disgust["known"]["expression"] == "disgust");  // "   3.0000000e+00": code 3
    // Listed AUs are present (intensity 0 included); unlisted ones are coded absent.
    BOOST_TEST((strings(disgust["known"]["action_units"]) == std::vector<std::string>{"AU9", "AU15", "AU17"}));
    BOOST_TEST((strings(disgust["known"]["au_coded"]) == all_aus()));
    BOOST_TEST(!disgust["known"].contains("valence"));
    BOOST_TEST(disgust["source"] == "ckplus");
    BOOST_TEST(disgust["source_id"] == "S005_001_00000011");
    BOOST_TEST(disgust["subject"] == "S005");
    BOOST_TEST(disgust["known_provenance"] == "source");
    BOOST_TEST(!disgust.contains("box"));

    // No emotion file: no expression; AU27 is outside the 17 and dropped, counted.
    const auto& no_emotion = imported.by_id.at("ckplus/S010_002_00000014");
    BOOST_TEST(!no_emotion["known"].contains("expression"));
    BOOST_TEST((strings(no_emotion["known"]["action_units"]) == std::vector<std::string>{"AU12"}));
    BOOST_TEST(imported.summary->au_dropped.at("AU27 (outside the knowledge's action units)") == 1);
    BOOST_TEST(imported.summary->expressions.at("disgust") == 1);
    // Two subjects: both in train (every tenth subject in name order is test).
    BOOST_TEST(imported.summary->splits.at("train") == 2);
}

BOOST_AUTO_TEST_CASE(each_emotion_code_maps_by_the_readme) {
    const std::vector<std::string> expected = {"neutral", "anger", "contempt", "disgust",
                                               "fear",    "happy", "sad",      "surprise"};
    TempDir dir;
    for (int code = 0; code < 8; ++code) {
        std::string subject = "S10" + std::to_string(code);
        std::string stem = subject + "_001_00000005";
        touch(dir / ("ck/cohn-kanade-images/" + subject + "/001/" + stem + ".png"));
        char value[32];
        std::snprintf(value, sizeof value, "   %.7e\n", static_cast<double>(code));
        put(dir / ("ck/Emotion/" + subject + "/001/" + stem + "_emotion.txt"), value);
    }
    auto imported = run_importer(import_options("ckplus", dir / "ck", dir / "ck.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    for (int code = 0; code < 8; ++code) {
        const auto& line = imported.by_id.at("ckplus/S10" + std::to_string(code) + "_001_00000005");
        BOOST_TEST(line["known"]["expression"] == expected[static_cast<std::size_t>(code)]);
        BOOST_TEST(!line["known"].contains("au_coded"));  // no FACS file: no AU coded
    }
}

BOOST_AUTO_TEST_CASE(every_tenth_subject_is_the_test_split) {
    TempDir dir;
    for (int s = 1; s <= 20; ++s) {
        char subject[8];
        std::snprintf(subject, sizeof subject, "S%03d", s);
        std::string stem = std::string(subject) + "_001_00000003";
        touch(dir / ("ck/cohn-kanade-images/" + std::string(subject) + "/001/" + stem + ".png"));
        put(dir / ("ck/Emotion/" + std::string(subject) + "/001/" + stem + "_emotion.txt"), "   5.0000000e+00\n");
    }
    auto options = import_options("ckplus", dir / "ck", dir / "ck.jsonl");
    options.split = "test";
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 2u);
    BOOST_TEST(imported.lines[0]["subject"] == "S010");
    BOOST_TEST(imported.lines[1]["subject"] == "S020");
    BOOST_TEST(imported.summary->other_splits == 18);
}

BOOST_AUTO_TEST_CASE(a_missing_peak_image_is_skipped_not_stepped_down) {
    TempDir dir;
    touch(dir / "ck/cohn-kanade-images/S005/001/S005_001_00000010.png");
    put(dir / "ck/Emotion/S005/001/S005_001_00000011_emotion.txt", "   5.0000000e+00\n");
    auto imported = run_importer(import_options("ckplus", dir / "ck", dir / "ck.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST(imported.lines.empty());
    BOOST_TEST(imported.summary->skipped.at("peak frame image missing") == 1);
}

BOOST_AUTO_TEST_CASE(malformed_files_name_the_file_and_line) {
    TempDir dir;
    touch(dir / "ck/cohn-kanade-images/S005/001/S005_001_00000011.png");
    put(dir / "ck/FACS/S005/001/S005_001_00000011_facs.txt",
        "   1.0000000e+00   2.0000000e+00\n   1.2500000e+01   1.0\n");
    auto imported = run_importer(import_options("ckplus", dir / "ck", dir / "ck.jsonl"));
    BOOST_TEST_REQUIRE(!imported.summary.ok());
    BOOST_TEST(imported.error().find("S005_001_00000011_facs.txt:2:") != std::string::npos, imported.error());
    BOOST_TEST(!std::filesystem::exists(dir / "ck.jsonl"));

    put(dir / "ck/FACS/S005/001/S005_001_00000011_facs.txt", "   1.0000000e+00   2.0000000e+00\n");
    put(dir / "ck/Emotion/S005/001/S005_001_00000011_emotion.txt", "   8.0000000e+00\n");
    auto bad_code = run_importer(import_options("ckplus", dir / "ck", dir / "ck.jsonl"));
    BOOST_TEST_REQUIRE(!bad_code.summary.ok());
    BOOST_TEST(bad_code.error().find("_emotion.txt:1: emotion code") != std::string::npos, bad_code.error());
}

BOOST_AUTO_TEST_CASE(a_folder_that_is_not_ckplus_is_refused) {
    TempDir dir;
    std::filesystem::create_directories(dir / "elsewhere");
    auto imported = run_importer(import_options("ckplus", dir / "elsewhere", dir / "ck.jsonl"));
    BOOST_TEST_REQUIRE(!imported.summary.ok());
    BOOST_TEST((imported.summary.error().code == errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
