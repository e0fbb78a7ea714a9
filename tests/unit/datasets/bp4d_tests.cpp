#include <boost/test/unit_test.hpp>

#include "tests/unit/datasets/import_fixture.hpp"

using namespace seke;
using namespace seke::test;

namespace {

const std::string kHeader = "0,1,2,4,5,6,7,10,12,14,15,17,23,24\n";

// The reference's BP4D fixture, plus F002 whose frame file is zero-padded.
void write_bp4d(const std::filesystem::path& root) {
    put(root / "AUCoding/AU_OCC/F001_T1.csv",
        kHeader + "2440,1,0,0,9,1,0,1,1,0,0,0,0,0\n2441,9,0,1,9,0,0,0,0,0,1,1,0,0\n2442,9,9,9,9,9,9,9,9,9,9,9,9,9\n");
    put(root / "AUCoding/AU_OCC/F002_T1.csv", kHeader + "5,0,0,0,0,0,0,0,1,0,0,0,0,0\n6,0,0,0,0,0,0,0,0,0,0,0,0,0\n");
    touch(root / "Sequences(2D+3D)/F001/T1/2440.jpg");
    touch(root / "Sequences(2D+3D)/F001/T1/2441.jpg");
    touch(root / "Sequences(2D+3D)/F001/T1/2442.jpg");
    touch(root / "Sequences(2D+3D)/F002/T1/0005.jpg");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets_bp4d)

BOOST_AUTO_TEST_CASE(occurrence_cells_code_the_twelve_aus_and_nine_is_unknown) {
    TempDir dir;
    write_bp4d(dir / "bp4d");
    auto imported = run_importer(import_options("bp4d", dir / "bp4d", dir / "bp4d.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 3u);

    const auto& first = imported.by_id.at("bp4d/F001_T1_2440");
    BOOST_TEST(first["image"] == "bp4d/Sequences(2D+3D)/F001/T1/2440.jpg");
    BOOST_TEST(first["subject"] == "F001");
    BOOST_TEST(first["split"] == "part1");
    const std::vector<std::string> twelve = {"AU1",  "AU2",  "AU4",  "AU6",  "AU7",  "AU10",
                                             "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"};
    // AU5's column exists but is not taken as coded.
    BOOST_TEST((strings(first["known"]["au_coded"]) == twelve));
    BOOST_TEST((strings(first["known"]["action_units"]) == std::vector<std::string>{"AU1", "AU6", "AU10", "AU12"}));

    // 9 in AU1's cell: AU1 unknown on that frame.
    const auto& second = imported.by_id.at("bp4d/F001_T1_2441");
    auto coded = strings(second["known"]["au_coded"]);
    BOOST_TEST(coded.size() == 11u);
    BOOST_TEST((std::find(coded.begin(), coded.end(), "AU1") == coded.end()));
    BOOST_TEST((strings(second["known"]["action_units"]) == std::vector<std::string>{"AU4", "AU15", "AU17"}));

    // Frame 5's image is 0005.jpg: matched by integer value; frame 6 has no image.
    const auto& padded = imported.by_id.at("bp4d/F002_T1_0005");
    BOOST_TEST(padded["image"] == "bp4d/Sequences(2D+3D)/F002/T1/0005.jpg");
    BOOST_TEST((strings(padded["known"]["action_units"]) == std::vector<std::string>{"AU12"}));

    const auto& s = *imported.summary;
    BOOST_TEST(s.skipped.at("no usable label") == 1);                         // 2442: every cell 9
    BOOST_TEST(s.skipped.at("image missing") == 1);                           // F002 frame 6
    BOOST_TEST(s.au_dropped.at("AU5 (not among BP4D's 12 coded AUs)") == 1);  // F002 frame 5; frame 6 is not written
    BOOST_TEST(s.unknown_levels.at("AU1: 9 (not coded)") == 1);
    for (const auto& [code, counts] : s.action_units)
        if (code == "AU5" || code == "AU9" || code == "AU20" || code == "AU25" || code == "AU26")
            BOOST_TEST(counts.uncoded == 3);
}

BOOST_AUTO_TEST_CASE(columns_are_chosen_by_header_and_every_n_thins) {
    TempDir dir;
    const auto root = dir / "bp4d";
    std::string rows = "0,12,1\n";  // columns in another order
    for (int f = 10; f < 16; ++f) {
        rows += std::to_string(f) + ",1,0\n";
        touch(root / ("2D+3D/M001/T8/" + std::to_string(f) + ".jpg"));
    }
    put(root / "AUCoding/AU_OCC/M001_T8.csv", rows);
    auto options = import_options("bp4d", root, dir / "bp4d.jsonl");
    options.every = 2;
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 3u);
    BOOST_TEST(imported.lines[0]["source_id"] == "M001_T8_10");
    BOOST_TEST(imported.lines[1]["source_id"] == "M001_T8_12");
    BOOST_TEST((strings(imported.lines[0]["known"]["au_coded"]) == std::vector<std::string>{"AU1", "AU12"}));
    BOOST_TEST((strings(imported.lines[0]["known"]["action_units"]) == std::vector<std::string>{"AU12"}));
    BOOST_TEST(imported.summary->thinned == 3);
}

BOOST_AUTO_TEST_CASE(a_cell_other_than_0_1_9_names_the_line) {
    TempDir dir;
    write_bp4d(dir / "bp4d");
    put(dir / "bp4d/AUCoding/AU_OCC/F002_T1.csv",
        kHeader + "5,0,0,0,0,0,0,0,1,0,0,0,0,0\n6,0,0,0,2,0,0,0,0,0,0,0,0,0\n");
    auto imported = run_importer(import_options("bp4d", dir / "bp4d", dir / "bp4d.jsonl"));
    BOOST_TEST_REQUIRE(!imported.summary.ok());
    BOOST_TEST(imported.error().find("F002_T1.csv:3: cell \"2\"") != std::string::npos, imported.error());
}

BOOST_AUTO_TEST_SUITE_END()
