#include <boost/test/unit_test.hpp>

#include "tests/unit/datasets/import_fixture.hpp"

using namespace seke;
using namespace seke::test;

namespace {

const std::string kAuHeader = "AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26\n";

// The reference's Aff-Wild2 fixture.
void write_affwild2(const std::filesystem::path& root) {
    put(root / "VA_Estimation_Challenge/Train_Set/1-30-1280x720.txt", "valence,arousal\n0.5,0.2\n-5,-5\n0.1,-0.3\n");
    put(root / "EXPR_Classification_Challenge/Train_Set/1-30-1280x720.txt",
        "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\n4\n-1\n7\n");
    put(root / "AU_Detection_Challenge/Validation_Set/video2_left.txt",
        kAuHeader + "1,0,0,1,0,0,1,0,0,0,1,0\n-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1\n");
    touch(root / "cropped_aligned/1-30-1280x720/00001.jpg");
    touch(root / "cropped_aligned/1-30-1280x720/00003.jpg");
    touch(root / "cropped_aligned/video2_left/00001.jpg");
    touch(root / "cropped_aligned/video2_left/00002.jpg");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets_affwild2)

BOOST_AUTO_TEST_CASE(task_files_join_per_frame_and_row_n_is_frame_n) {
    TempDir dir;
    write_affwild2(dir / "affwild2");
    auto imported = run_importer(import_options("affwild2", dir / "affwild2", dir / "aw.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());

    const auto& first = imported.by_id.at("affwild2/1-30-1280x720/00001");
    BOOST_TEST(first["image"] == "affwild2/cropped_aligned/1-30-1280x720/00001.jpg");
    BOOST_TEST(first["known"]["expression"] == "happy");  // 4 Happiness
    BOOST_TEST(first["known"]["valence"] == 0.5);
    BOOST_TEST(first["known"]["arousal"] == 0.2);
    BOOST_TEST(first["split"] == "train");
    BOOST_TEST(first["subject"] == "1-30-1280x720");
    BOOST_TEST(!first["known"].contains("au_coded"));  // this video has no AU file

    // Frame 2: VA -5 and EXPR -1, and no JPEG: skipped.
    BOOST_TEST(!imported.by_id.count("affwild2/1-30-1280x720/00002"));
    // Frame 3: Other leaves the expression unknown; VA kept.
    const auto& third = imported.by_id.at("affwild2/1-30-1280x720/00003");
    BOOST_TEST(!third["known"].contains("expression"));
    BOOST_TEST(third["known"]["valence"] == 0.1);

    // The AU file of the validation video: its 12 header AUs are coded.
    const auto& au = imported.by_id.at("affwild2/video2_left/00001");
    BOOST_TEST(au["split"] == "validation");
    BOOST_TEST(
        (strings(au["known"]["au_coded"]) == std::vector<std::string>{"AU1", "AU2", "AU4", "AU6", "AU7", "AU10", "AU12",
                                                                      "AU15", "AU23", "AU24", "AU25", "AU26"}));
    BOOST_TEST((strings(au["known"]["action_units"]) == std::vector<std::string>{"AU1", "AU6", "AU12", "AU25"}));
    BOOST_TEST(!imported.by_id.count("affwild2/video2_left/00002"));  // every AU -1

    const auto& s = *imported.summary;
    BOOST_TEST(s.items == 3);
    BOOST_TEST(s.skipped.at("no usable label") == 2);
    BOOST_TEST(s.unknown_levels.at("expression 7 (Other)") == 1);
    BOOST_TEST(s.splits.at("train") == 2);
    BOOST_TEST(s.splits.at("validation") == 1);
}

BOOST_AUTO_TEST_CASE(a_frame_without_its_jpeg_is_skipped_with_that_reason) {
    TempDir dir;
    const auto root = dir / "aw";
    put(root / "EXPR_Classification_Challenge/Validation_Set/v.txt",
        "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\n0\n1\n");
    touch(root / "cropped_aligned/v/00002.jpg");
    auto options = import_options("affwild2", root, dir / "aw.jsonl");
    options.split = "validation";
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 1u);
    BOOST_TEST(imported.lines[0]["known"]["expression"] == "anger");
    BOOST_TEST(imported.summary->skipped.at("no frame image (no face detected in the frame)") == 1);
}

BOOST_AUTO_TEST_CASE(the_abaw_2020_layout_and_its_seven_classes) {
    TempDir dir;
    const auto root = dir / "aw";
    put(root / "annotations/EXPR_Set/Training_Set/v.txt", "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise\n6\n");
    put(root / "annotations/AU_Set/Training_Set/v.txt", "AU1,AU2,AU4,AU6,AU12,AU15,AU20,AU25\n0,0,0,0,0,0,1,0\n");
    touch(root / "cropped_aligned/v/00001.jpg");
    auto imported = run_importer(import_options("affwild2", root, dir / "aw.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 1u);
    BOOST_TEST(imported.lines[0]["known"]["expression"] == "surprise");
    BOOST_TEST((strings(imported.lines[0]["known"]["au_coded"]) ==
                std::vector<std::string>{"AU1", "AU2", "AU4", "AU6", "AU12", "AU15", "AU20", "AU25"}));
    BOOST_TEST((strings(imported.lines[0]["known"]["action_units"]) == std::vector<std::string>{"AU20"}));
}

BOOST_AUTO_TEST_CASE(a_bad_value_names_the_file_and_line) {
    TempDir dir;
    write_affwild2(dir / "aw");
    put(dir / "aw/VA_Estimation_Challenge/Train_Set/1-30-1280x720.txt", "valence,arousal\n0.5,0.2\n0.3\n");
    auto imported = run_importer(import_options("affwild2", dir / "aw", dir / "aw.jsonl"));
    BOOST_TEST_REQUIRE(!imported.summary.ok());
    BOOST_TEST(imported.error().find("1-30-1280x720.txt:3: a VA row") != std::string::npos, imported.error());
}

BOOST_AUTO_TEST_SUITE_END()
