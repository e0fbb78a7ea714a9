#include <boost/test/unit_test.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "tests/unit/datasets/import_fixture.hpp"

using namespace seke;
using namespace seke::test;

namespace {

const int kAus[] = {1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26};

// Label files of `subject` for its AUs; AU1's frames have intensities 0, 1, 4 (absent, trace, present).
void write_labels(const std::filesystem::path& root, const std::string& subject, bool with_au26, int frames = 3) {
    for (int au : kAus) {
        if (au == 26 && !with_au26) continue;
        std::string lines;
        for (int f = 1; f <= frames; ++f) {
            int intensity = au == 1 ? (f == 1 ? 0 : f == 2 ? 1 : 4) : au == 12 ? 2 : 0;
            lines += std::to_string(f) + "," + std::to_string(intensity) + "\n";
        }
        put(root / ("ActionUnit_Labels/" + subject + "/" + subject + "_au" + std::to_string(au) + ".txt"), lines);
    }
}

// A short MJPG video whose frame k (from 0) is filled with grey level 40 * (k + 1).
void write_video(const std::filesystem::path& path, int frames) {
    std::filesystem::create_directories(path.parent_path());
    cv::VideoWriter writer(path.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, cv::Size(32, 24));
    BOOST_TEST_REQUIRE(writer.isOpened());
    for (int k = 0; k < frames; ++k) writer.write(cv::Mat(24, 32, CV_8UC3, cv::Scalar::all(40 * (k + 1))));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets_disfa)

BOOST_AUTO_TEST_CASE(intensity_two_or_more_is_present_and_five_aus_stay_unknown) {
    TempDir dir;
    const auto root = dir / "disfa";
    write_labels(root, "SN001", true);
    write_labels(root, "SN002", false);  // no AU26 file: AU26 unknown for SN002
    for (const char* subject : {"SN001", "SN002"})
        for (int f = 1; f <= 3; ++f) touch(dir / ("frames/" + std::string(subject) + "/" + std::to_string(f) + ".png"));
    touch(root / "Videos_LeftCamera/LeftVideoSN001_comp.avi");  // present, never opened: the frames are there
    auto options = import_options("disfa", root, dir / "disfa.jsonl");
    options.frames_out = dir / "frames";
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 6u);

    const auto& first = imported.by_id.at("disfa/SN001_1");
    BOOST_TEST(first["image"] == "frames/SN001/1.png");  // frameIdx 1 is 1.png
    BOOST_TEST(first["subject"] == "SN001");
    BOOST_TEST(first["split"] == "part1");
    BOOST_TEST(!first["known"].contains("expression"));
    BOOST_TEST(!first["known"].contains("valence"));
    const std::vector<std::string> coded = {"AU1",  "AU2",  "AU4",  "AU5",  "AU6",  "AU9",
                                            "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"};
    BOOST_TEST((strings(first["known"]["au_coded"]) == coded));  // AU7, 10, 14, 23, 24 unknown
    BOOST_TEST((strings(first["known"]["action_units"]) == std::vector<std::string>{"AU12"}));  // 2 is present
    // Intensity 1 (trace) is absent, 4 present.
    BOOST_TEST(
        (strings(imported.by_id.at("disfa/SN001_2")["known"]["action_units"]) == std::vector<std::string>{"AU12"}));
    BOOST_TEST((strings(imported.by_id.at("disfa/SN001_3")["known"]["action_units"]) ==
                std::vector<std::string>{"AU1", "AU12"}));

    const auto& other = imported.by_id.at("disfa/SN002_1");
    auto other_coded = strings(other["known"]["au_coded"]);
    BOOST_TEST(other_coded.size() == 11u);
    BOOST_TEST((std::find(other_coded.begin(), other_coded.end(), "AU26") == other_coded.end()));
    BOOST_TEST(imported.summary->unknown_levels.at("AU26: no label file") == 3);
    const auto& au7 = imported.summary->action_units[5];
    BOOST_TEST(au7.first == "AU7");
    BOOST_TEST(au7.second.uncoded == 6);
    BOOST_TEST(imported.summary->frames_reused == 6);
    BOOST_TEST(imported.summary->frames_decoded == 0);
}

BOOST_AUTO_TEST_CASE(frames_are_decoded_from_the_video_once) {
    TempDir dir;
    const auto root = dir / "disfa";
    write_labels(root, "SN003", true, 4);
    write_video(root / "Videos_LeftCamera/LeftVideoSN003_comp.avi", 3);  // one frame shorter than the labels
    auto options = import_options("disfa", root, dir / "out/disfa.jsonl");
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    // Default frames folder: beside the manifest.
    const auto frames = dir / "out/disfa-frames/SN003";
    BOOST_TEST(imported.summary->frames_decoded == 3);
    BOOST_TEST(imported.summary->skipped.at("frame past the end of the video") == 1);
    BOOST_TEST_REQUIRE(imported.lines.size() == 3u);
    BOOST_TEST(imported.by_id.at("disfa/SN003_2")["image"] == "disfa-frames/SN003/2.png");
    BOOST_TEST(imported.by_id.at("disfa/SN003_2")["split"] == "part3");
    // frameIdx n is decoded frame n - 1: its grey level says which one it is.
    for (int n = 1; n <= 3; ++n) {
        cv::Mat frame = cv::imread((frames / (std::to_string(n) + ".png")).string());
        BOOST_TEST_REQUIRE(!frame.empty());
        BOOST_TEST(std::abs(frame.at<cv::Vec3b>(12, 16)[0] - 40 * n) <= 6);
    }
    BOOST_TEST(!std::filesystem::exists(frames / "4.png"));

    // A second run writes only what is missing.
    std::filesystem::remove(frames / "2.png");
    auto again = run_importer(options);
    BOOST_TEST_REQUIRE(again.summary.ok(), again.error());
    BOOST_TEST(again.summary->frames_decoded == 1);
    BOOST_TEST(again.summary->frames_reused == 2);
    BOOST_TEST(std::filesystem::exists(frames / "2.png"));
}

BOOST_AUTO_TEST_CASE(the_video_is_found_whatever_the_case_of_its_names) {
    TempDir dir;
    const auto root = dir / "disfa";
    write_labels(root, "SN004", true, 2);
    write_video(root / "Video_LeftCamera/leftvideosn004_Comp.avi", 2);
    auto options = import_options("disfa", root, dir / "disfa.jsonl");
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST(imported.lines.size() == 2u);
    BOOST_TEST(imported.summary->frames_decoded == 2);
}

BOOST_AUTO_TEST_CASE(trace_intensity_can_be_left_unknown) {
    TempDir dir;
    const auto root = dir / "disfa";
    write_labels(root, "SN001", true);
    for (int f = 1; f <= 3; ++f) touch(dir / ("frames/SN001/" + std::to_string(f) + ".png"));
    auto options = import_options("disfa", root, dir / "disfa.jsonl");
    options.frames_out = dir / "frames";
    options.trace = "unknown";
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    // Frame 2 has AU1 at intensity 1: not coded; frames 1 (0) and 3 (4) code it.
    auto coded = strings(imported.by_id.at("disfa/SN001_2")["known"]["au_coded"]);
    BOOST_TEST((std::find(coded.begin(), coded.end(), "AU1") == coded.end()));
    BOOST_TEST(strings(imported.by_id.at("disfa/SN001_1")["known"]["au_coded"]).size() == 12u);
    BOOST_TEST(imported.summary->unknown_levels.at("AU1: intensity 1 (trace)") == 1);
}

BOOST_AUTO_TEST_CASE(every_n_takes_every_nth_labeled_frame) {
    TempDir dir;
    const auto root = dir / "disfa";
    write_labels(root, "SN001", true, 7);
    for (int f = 1; f <= 7; ++f) touch(dir / ("frames/SN001/" + std::to_string(f) + ".png"));
    auto options = import_options("disfa", root, dir / "disfa.jsonl");
    options.frames_out = dir / "frames";
    options.every = 3;
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 3u);
    BOOST_TEST(imported.lines[0]["source_id"] == "SN001_1");
    BOOST_TEST(imported.lines[1]["source_id"] == "SN001_4");
    BOOST_TEST(imported.lines[2]["source_id"] == "SN001_7");
    BOOST_TEST(imported.summary->thinned == 4);
}

BOOST_AUTO_TEST_CASE(no_video_and_no_frames_is_a_skip_and_bad_lines_an_error) {
    TempDir dir;
    const auto root = dir / "disfa";
    write_labels(root, "SN001", true, 2);
    auto imported = run_importer(import_options("disfa", root, dir / "disfa.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST(imported.lines.empty());
    BOOST_TEST(imported.summary->skipped.at("frame not extracted and no video found") == 2);

    put(root / "ActionUnit_Labels/SN001/SN001_au4.txt", "1,0\n2,6\n");
    auto bad = run_importer(import_options("disfa", root, dir / "disfa.jsonl"));
    BOOST_TEST_REQUIRE(!bad.summary.ok());
    BOOST_TEST(bad.error().find("SN001_au4.txt:2: intensity \"6\"") != std::string::npos, bad.error());
}

BOOST_AUTO_TEST_SUITE_END()
