#include <boost/test/unit_test.hpp>

#include "tests/unit/datasets/import_fixture.hpp"

using namespace seke;
using namespace seke::test;

namespace {

// The reference's RAF-DB fixture, plus an entry whose image is missing.
void write_rafdb(const std::filesystem::path& basic) {
    put(basic / "EmoLabel/list_patition_label.txt",
        "train_00001.jpg 4\ntrain_00002.jpg 7\ntest_0001.jpg 2\ntest_0002.jpg 1\n");
    for (const char* stem : {"train_00001", "train_00002", "test_0001"}) {
        touch(basic / ("Image/aligned/" + std::string(stem) + "_aligned.jpg"));
        touch(basic / ("Image/original/" + std::string(stem) + ".jpg"));
    }
    put(basic / "Annotation/boundingbox/train_00001_boundingbox.txt", "95.5 120.0 350.2 380.7\n");
    put(basic / "Annotation/manual/train_00001_manu_attri.txt", "1\t2\n3\t4\n5\t6\n7\t8\n9\t10\n1\n0\n2\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets_rafdb)

BOOST_AUTO_TEST_CASE(labels_map_in_the_list_order_and_splits_come_from_the_name) {
    TempDir dir;
    write_rafdb(dir / "rafdb/basic");
    auto imported = run_importer(import_options("rafdb", dir / "rafdb/basic", dir / "raf.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 3u);
    const auto& happy = imported.by_id.at("rafdb/train_00001");
    BOOST_TEST(happy["known"]["expression"] == "happy");  // 4 Happiness
    BOOST_TEST(happy["split"] == "train");
    BOOST_TEST(happy["image"] == "rafdb/basic/Image/aligned/train_00001_aligned.jpg");
    BOOST_TEST(!happy.contains("box"));  // the aligned crops have no box
    BOOST_TEST(!happy.contains("subject"));
    BOOST_TEST(!happy["known"].contains("action_units"));
    BOOST_TEST(imported.by_id.at("rafdb/train_00002")["known"]["expression"] == "neutral");  // 7
    const auto& fear = imported.by_id.at("rafdb/test_0001");                                 // 4-digit test names
    BOOST_TEST(fear["known"]["expression"] == "fear");                                       // 2
    BOOST_TEST(fear["split"] == "test");
    BOOST_TEST(imported.summary->skipped.at("image missing") == 1);  // test_0002
    BOOST_TEST(imported.summary->splits.at("train") == 2);
}

BOOST_AUTO_TEST_CASE(original_images_carry_the_bounding_box_as_x_y_width_height) {
    TempDir dir;
    write_rafdb(dir / "rafdb/basic");
    auto options = import_options("rafdb", dir / "rafdb", dir / "raf.jsonl");  // the folder above basic/ works too
    options.images = "original";
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    const auto& with_box = imported.by_id.at("rafdb/train_00001");
    BOOST_TEST(with_box["image"] == "rafdb/basic/Image/original/train_00001.jpg");
    const auto box = with_box["box"].get<std::vector<double>>();
    BOOST_TEST_REQUIRE(box.size() == 4u);
    BOOST_TEST(box[0] == 95.5);
    BOOST_TEST(box[1] == 120.0);
    BOOST_TEST(box[2] == 350.2 - 95.5, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(box[3] == 380.7 - 120.0, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(!imported.by_id.at("rafdb/train_00002").contains("box"));  // no boundingbox file
}

BOOST_AUTO_TEST_CASE(every_label_maps_by_the_list_order) {
    const std::vector<std::string> names = {"surprise", "fear", "disgust", "happy", "sad", "anger", "neutral"};
    TempDir dir;
    std::string list;
    for (int label = 1; label <= 7; ++label) {
        std::string stem = "test_000" + std::to_string(label);
        list += stem + ".jpg " + std::to_string(label) + "\n";
        touch(dir / ("basic/Image/aligned/" + stem + "_aligned.jpg"));
    }
    put(dir / "basic/EmoLabel/list_patition_label.txt", list);
    auto imported = run_importer(import_options("rafdb", dir / "basic", dir / "raf.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    for (int label = 1; label <= 7; ++label)
        BOOST_TEST(imported.by_id.at("rafdb/test_000" + std::to_string(label))["known"]["expression"] ==
                   names[static_cast<std::size_t>(label - 1)]);
}

BOOST_AUTO_TEST_CASE(a_label_outside_one_to_seven_names_the_line) {
    TempDir dir;
    write_rafdb(dir / "basic");
    put(dir / "basic/EmoLabel/list_patition_label.txt", "train_00001.jpg 4\ntrain_00002.jpg 0\n");
    auto imported = run_importer(import_options("rafdb", dir / "basic", dir / "raf.jsonl"));
    BOOST_TEST_REQUIRE(!imported.summary.ok());
    BOOST_TEST(imported.error().find("list_patition_label.txt:2: label \"0\"") != std::string::npos, imported.error());
}

BOOST_AUTO_TEST_CASE(split_selects_one_prefix) {
    TempDir dir;
    write_rafdb(dir / "basic");
    auto options = import_options("rafdb", dir / "basic", dir / "raf.jsonl");
    options.split = "test";
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST(imported.lines.size() == 1u);
    BOOST_TEST(imported.summary->other_splits == 2);

    options.split = "validation";  // RAF-DB has none
    auto wrong = run_importer(options);
    BOOST_TEST_REQUIRE(!wrong.summary.ok());
    BOOST_TEST(wrong.error() == "--split validation: rafdb here has test, train");
}

BOOST_AUTO_TEST_SUITE_END()
