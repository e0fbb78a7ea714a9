#include <boost/test/unit_test.hpp>

#include "tests/unit/datasets/import_fixture.hpp"

using namespace seke;
using namespace seke::test;

BOOST_AUTO_TEST_SUITE(datasets_summary)

BOOST_AUTO_TEST_CASE(the_summary_counts_as_json_and_as_a_table) {
    TempDir dir;
    touch(dir / "ck/cohn-kanade-images/S005/001/S005_001_00000011.png");
    put(dir / "ck/Emotion/S005/001/S005_001_00000011_emotion.txt", "   5.0000000e+00\n");
    put(dir / "ck/FACS/S005/001/S005_001_00000011_facs.txt",
        "   6.0000000e+00   2.0000000e+00\n   1.2000000e+01   3.0000000e+00\n   4.3000000e+01   1.0000000e+00\n");
    put(dir / "ck/Emotion/S006/001/S006_001_00000004_emotion.txt", "   1.0000000e+00\n");  // no image
    auto imported = run_importer(import_options("ckplus", dir / "ck", dir / "ck.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    auto json = datasets::summary_json(*imported.summary);
    BOOST_TEST(json["dataset"] == "ckplus");
    BOOST_TEST(json["items"] == 1);
    BOOST_TEST(json["splits"]["train"] == 1);
    BOOST_TEST(json["expressions"]["happy"] == 1);
    BOOST_TEST(json["action_units"]["AU12"]["present"] == 1);
    BOOST_TEST(json["action_units"]["AU1"]["absent"] == 1);
    BOOST_TEST(json["action_units"]["AU1"]["uncoded"] == 0);
    BOOST_TEST(json["va"]["items"] == 0);
    BOOST_TEST(json["skipped"]["items"] == 1);
    BOOST_TEST(json["skipped"]["reasons"]["peak frame image missing"] == 1);
    BOOST_TEST(json["au_dropped"]["AU43 (outside the knowledge's action units)"] == 1);
    BOOST_TEST(!json.contains("frames"));

    std::string table = datasets::summary_table(*imported.summary);
    BOOST_TEST(table.find("happy") != std::string::npos);
    BOOST_TEST(table.find("peak frame image missing") != std::string::npos);
    BOOST_TEST(table.find("AU43 (outside the knowledge's action units)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_summary_counts_uncoded_aus_thinned_frames_and_va_coverage) {
    TempDir dir;
    // BP4D codes 12 AUs: AU5's column is there but is not one of them; every other frame is taken.
    put(dir / "bp4d/AUCoding/AU_OCC/F001_T1.csv", "0,1,5,12\n1,1,0,0\n2,0,1,1\n3,0,0,1\n4,9,0,1\n");
    for (int frame = 1; frame <= 4; ++frame) touch(dir / ("bp4d/2D+3D/F001/T1/" + std::to_string(frame) + ".jpg"));
    auto options = import_options("bp4d", dir / "bp4d", dir / "bp4d.jsonl");
    options.every = 2;
    auto bp4d = run_importer(options);
    BOOST_TEST_REQUIRE(bp4d.summary.ok(), bp4d.error());
    auto json = datasets::summary_json(*bp4d.summary);
    BOOST_TEST(json["items"] == 2);  // frames 1 and 3
    BOOST_TEST(json["thinned"] == 2);
    BOOST_TEST(json["action_units"]["AU1"]["present"] == 1);
    BOOST_TEST(json["action_units"]["AU1"]["absent"] == 1);
    BOOST_TEST(json["action_units"]["AU12"]["present"] == 1);
    BOOST_TEST(json["action_units"]["AU12"]["absent"] == 1);
    BOOST_TEST(json["action_units"]["AU5"]["uncoded"] == 2);  // its column is not one of BP4D's 12
    BOOST_TEST(json["action_units"]["AU25"]["uncoded"] == 2);
    BOOST_TEST(json["va"]["items"] == 0);
    BOOST_TEST(json["va"]["coverage"] == 0.0);
    const std::string bp4d_table = datasets::summary_table(*bp4d.summary);
    BOOST_TEST(bp4d_table.find("present   absent  uncoded") != std::string::npos, bp4d_table);
    BOOST_TEST(bp4d_table.find("AU5") != std::string::npos);

    // AffectNet: VA on three of four rows.
    const std::string header =
        "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n";
    put(dir / "an/Manually_Annotated_file_lists/training.csv",
        header +
            "1/a.jpg,0,0,10,10,1;2,1,0.5,0.1\n1/b.jpg,0,0,10,10,1;2,2,-0.5,0.2\n"
            "1/c.jpg,0,0,10,10,1;2,3,0.1,0.1\n1/d.jpg,0,0,10,10,1;2,4,-2,-2\n");
    for (const char* name : {"a", "b", "c", "d"})
        touch(dir / "an/Manually_Annotated_Images/1" / (std::string(name) + ".jpg"));
    auto affectnet = run_importer(import_options("affectnet", dir / "an", dir / "an.jsonl"));
    BOOST_TEST_REQUIRE(affectnet.summary.ok(), affectnet.error());
    json = datasets::summary_json(*affectnet.summary);
    BOOST_TEST(json["items"] == 4);
    BOOST_TEST(json["va"]["items"] == 3);
    BOOST_TEST(json["va"]["coverage"] == 0.75);
    BOOST_TEST(json["action_units"]["AU1"]["uncoded"] == 4);  // AffectNet codes no AU
    const std::string table = datasets::summary_table(*affectnet.summary);
    BOOST_TEST(table.find("3 items (75.0 %)") != std::string::npos, table);
}

BOOST_AUTO_TEST_CASE(image_paths_are_relative_under_the_manifest_folder_else_absolute) {
    TempDir dir;
    auto writer = datasets::ManifestWriter::open(dir / "out/m.jsonl");
    BOOST_TEST_REQUIRE(writer.ok());
    datasets::ManifestEntry entry;
    entry.source = "rafdb";
    entry.source_id = "train_00001";
    entry.split = "train";
    entry.image = dir / "out/images/a.jpg";
    entry.known.expression = "happy";
    auto line = writer->line(entry);
    BOOST_TEST(line["image"] == "images/a.jpg");
    BOOST_TEST(line["id"] == "rafdb/train_00001");
    BOOST_TEST(!line["known"].contains("au_coded"));
    BOOST_TEST(!line["known"].contains("action_units"));
    entry.image = dir / "elsewhere/a.jpg";
    BOOST_TEST(writer->line(entry)["image"] == (dir / "elsewhere/a.jpg").lexically_normal().generic_string());
    // Nothing is in place until the manifest is committed whole.
    BOOST_TEST(!std::filesystem::exists(dir / "out/m.jsonl"));
    BOOST_TEST_REQUIRE(writer->commit().ok());
    BOOST_TEST(std::filesystem::exists(dir / "out/m.jsonl"));
}

BOOST_AUTO_TEST_CASE(options_that_do_not_fit_the_dataset_are_refused) {
    TempDir dir;
    std::filesystem::create_directories(dir / "root");
    auto every = import_options("rafdb", dir / "root", dir / "m.jsonl");
    every.every = 5;
    BOOST_TEST(!run_importer(every).summary.ok());
    auto zero = import_options("disfa", dir / "root", dir / "m.jsonl");
    zero.every = 0;
    BOOST_TEST(!run_importer(zero).summary.ok());
    auto images = import_options("bp4d", dir / "root", dir / "m.jsonl");
    images.images = "original";
    BOOST_TEST(!run_importer(images).summary.ok());
    auto unknown = run_importer(import_options("fer2013", dir / "root", dir / "m.jsonl"));
    BOOST_TEST_REQUIRE(!unknown.summary.ok());
    BOOST_TEST(unknown.error().find("unknown dataset") != std::string::npos);
    auto missing = run_importer(import_options("bp4d", dir / "nowhere", dir / "m.jsonl"));
    BOOST_TEST_REQUIRE(!missing.summary.ok());
    BOOST_TEST((missing.summary.error().code == errc::not_found));
}

BOOST_AUTO_TEST_CASE(label_lines_are_bounded) {
    TempDir dir;
    put(dir / "basic/EmoLabel/list_patition_label.txt", "train_00001.jpg 4\n" + std::string(100, 'x') + "\n");
    auto options = import_options("rafdb", dir / "basic", dir / "m.jsonl");
    options.limits.max_line_bytes = 64;
    auto imported = run_importer(options);
    BOOST_TEST_REQUIRE(!imported.summary.ok());
    BOOST_TEST(imported.error().find("list_patition_label.txt:2: line longer than 64 bytes") != std::string::npos,
               imported.error());
}

BOOST_AUTO_TEST_SUITE_END()
