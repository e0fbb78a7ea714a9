#include <boost/test/unit_test.hpp>

#include <cstring>

#include "tests/unit/datasets/import_fixture.hpp"

using namespace seke;
using namespace seke::test;

namespace {

std::string landmarks() {
    std::string field;
    for (int i = 0; i < 136; ++i) field += (i ? ";" : "") + std::to_string(100 + i) + ".5";
    return field;
}

std::string row(const std::string& path, const std::string& box, int expression, const std::string& va) {
    return path + "," + box + "," + landmarks() + "," + std::to_string(expression) + "," + va + "\n";
}

void write_affectnet_csv(const std::filesystem::path& root) {
    const std::string header =
        "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n";
    put(root / "Manually_Annotated_file_lists/training.csv",
        header + row("689/a1.jpg", "10,20,200,210", 1, "0.61,0.12") + row("689/a2.jpg", "5,6,70,80", 8, "-0.3,0.4") +
            row("689/a3.jpg", "5,6,70,80", 9, "-2,-2") + row("689/a4.jpg", "5,6,70,80", 10, "-2,-2") +
            row("689/a5.jpg", "5,6,70,80", 7, "-2,-2"));
    // validation.csv without its header row.
    put(root / "Manually_Annotated_file_lists/validation.csv", row("12/v1.jpg", "1,2,30,40", 2, "-0.5,0.25"));
    for (const char* image : {"689/a1.jpg", "689/a2.jpg", "689/a3.jpg", "689/a4.jpg", "689/a5.jpg", "12/v1.jpg"})
        touch(root / "Manually_Annotated_Images" / image);
}

// A 0-d NPY v1.0 file: magic, version, header length, the header padded to 64 bytes, the data.
std::string npy(const std::string& descr, const std::string& data) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (), }";
    std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(header.size() & 0xFF);
    out += static_cast<char>(header.size() >> 8);
    return out + header + data;
}

std::string f8(double value) {
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &value, 8);
    return bytes;
}

std::string u1(char digit) {
    std::string bytes(4, '\0');
    bytes[0] = digit;
    return bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets_affectnet)

BOOST_AUTO_TEST_CASE(csv_rows_keep_box_expression_and_va) {
    TempDir dir;
    write_affectnet_csv(dir / "affectnet");
    auto imported = run_importer(import_options("affectnet", dir / "affectnet", dir / "an.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST_REQUIRE(imported.lines.size() == 4u);

    const auto& happy = imported.by_id.at("affectnet/689/a1.jpg");
    BOOST_TEST(happy["known"]["expression"] == "happy");  // 1 Happy
    BOOST_TEST(happy["known"]["valence"] == 0.61);
    BOOST_TEST(happy["known"]["arousal"] == 0.12);
    BOOST_TEST((happy["box"].get<std::vector<double>>() == std::vector<double>{10, 20, 200, 210}));
    BOOST_TEST(happy["split"] == "train");
    BOOST_TEST(happy["image"] == "affectnet/Manually_Annotated_Images/689/a1.jpg");

    // 8 None: the expression is unknown, VA kept.
    const auto& none = imported.by_id.at("affectnet/689/a2.jpg");
    BOOST_TEST(!none["known"].contains("expression"));
    BOOST_TEST(none["known"]["valence"] == -0.3);
    // 7 Contempt with VA -2: the expression alone.
    const auto& contempt = imported.by_id.at("affectnet/689/a5.jpg");
    BOOST_TEST(contempt["known"]["expression"] == "contempt");
    BOOST_TEST(!contempt["known"].contains("valence"));
    // 9 Uncertain with -2: nothing left; 10 No-Face: skipped.
    BOOST_TEST(!imported.by_id.count("affectnet/689/a3.jpg"));
    BOOST_TEST(!imported.by_id.count("affectnet/689/a4.jpg"));
    const auto& s = *imported.summary;
    BOOST_TEST(s.skipped.at("no usable label") == 1);
    BOOST_TEST(s.skipped.at("expression 10 (No-Face)") == 1);
    BOOST_TEST(s.unknown_levels.at("expression 8 (None)") == 1);
    BOOST_TEST(s.unknown_levels.at("valence-arousal -2 (not annotated)") == 1);
    BOOST_TEST(s.with_va == 3);

    // validation.csv has no header row: its first line is data.
    const auto& sad = imported.by_id.at("affectnet/12/v1.jpg");
    BOOST_TEST(sad["split"] == "validation");
    BOOST_TEST(sad["known"]["expression"] == "sad");
    BOOST_TEST(s.splits.at("validation") == 1);
}

BOOST_AUTO_TEST_CASE(every_code_maps_by_name) {
    const std::vector<std::string> names = {"neutral", "happy",   "sad",   "surprise",
                                            "fear",    "disgust", "anger", "contempt"};
    TempDir dir;
    std::string rows =
        "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n";
    for (int code = 0; code < 8; ++code) {
        rows += row("1/c" + std::to_string(code) + ".jpg", "0,0,10,10", code, "0.1,0.1");
        touch(dir / ("an/Manually_Annotated_Images/1/c" + std::to_string(code) + ".jpg"));
    }
    put(dir / "an/Manually_Annotated_file_lists/training.csv", rows);
    auto imported = run_importer(import_options("affectnet", dir / "an", dir / "an.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    for (int code = 0; code < 8; ++code)
        BOOST_TEST(imported.by_id.at("affectnet/1/c" + std::to_string(code) + ".jpg")["known"]["expression"] ==
                   names[static_cast<std::size_t>(code)]);
}

BOOST_AUTO_TEST_CASE(a_row_whose_face_box_is_not_positive_is_skipped) {
    TempDir dir;
    put(dir / "an/Manually_Annotated_file_lists/training.csv",
        row("1/a.jpg", "0,0,-1,10", 1, "0.1,0.1") + row("1/b.jpg", "0,0,10,0", 1, "0.1,0.1"));
    touch(dir / "an/Manually_Annotated_Images/1/a.jpg");
    touch(dir / "an/Manually_Annotated_Images/1/b.jpg");
    auto imported = run_importer(import_options("affectnet", dir / "an", dir / "an.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    BOOST_TEST(imported.lines.empty());
    BOOST_TEST(imported.summary->skipped.at("face box width or height not positive") == 2);
}

BOOST_AUTO_TEST_CASE(a_bad_row_names_the_file_and_line) {
    TempDir dir;
    write_affectnet_csv(dir / "an");
    put(dir / "an/Manually_Annotated_file_lists/validation.csv",
        row("12/v1.jpg", "1,2,30,40", 2, "-0.5,0.25") + row("12/v2.jpg", "1,2,30,40", 11, "0,0"));
    auto imported = run_importer(import_options("affectnet", dir / "an", dir / "an.jsonl"));
    BOOST_TEST_REQUIRE(!imported.summary.ok());
    BOOST_TEST(imported.error().find("validation.csv:2: expression \"11\"") != std::string::npos, imported.error());
}

BOOST_AUTO_TEST_CASE(npy_annotations_of_the_eight_label_distribution) {
    TempDir dir;
    const auto root = dir / "affectnet8";
    put(root / "train_set/annotations/0_exp.npy", npy("<f8", f8(3)));
    put(root / "train_set/annotations/0_val.npy", npy("<f8", f8(0.25)));
    put(root / "train_set/annotations/0_aro.npy", npy("<f4", std::string("\x00\x00\x00\xbf", 4)));  // -0.5f
    touch(root / "train_set/images/0.jpg");
    put(root / "val_set/annotations/7_exp.npy", npy("<U1", u1('7')));
    put(root / "val_set/annotations/7_val.npy", npy("<f8", f8(-2)));
    put(root / "val_set/annotations/7_aro.npy", npy("<f8", f8(-2)));
    touch(root / "val_set/images/7.jpg");
    auto imported = run_importer(import_options("affectnet", root, dir / "an8.jsonl"));
    BOOST_TEST_REQUIRE(imported.summary.ok(), imported.error());
    const auto& surprise = imported.by_id.at("affectnet/train_set/0");
    BOOST_TEST(surprise["known"]["expression"] == "surprise");
    BOOST_TEST(surprise["known"]["valence"] == 0.25);
    BOOST_TEST(surprise["known"]["arousal"] == -0.5);
    BOOST_TEST(surprise["split"] == "train");
    BOOST_TEST(!surprise.contains("box"));  // pre-cropped faces
    const auto& contempt = imported.by_id.at("affectnet/val_set/7");
    BOOST_TEST(contempt["known"]["expression"] == "contempt");  // '<U1' "7"
    BOOST_TEST(!contempt["known"].contains("valence"));
    BOOST_TEST(contempt["split"] == "validation");
}

BOOST_AUTO_TEST_CASE(npy_scalars_of_each_dtype) {
    TempDir dir;
    put(dir / "i8.npy", npy("<i8", std::string("\xfe\xff\xff\xff\xff\xff\xff\xff", 8)));
    auto i8 = datasets::read_npy_scalar(dir / "i8.npy");
    BOOST_TEST_REQUIRE(i8.ok(), (i8.ok() ? "" : i8.error().message));
    BOOST_TEST(*i8 == -2.0);
    put(dir / "u.npy", npy("<U3", u1('0') + u1('.') + u1('5')));
    auto u = datasets::read_npy_scalar(dir / "u.npy");
    BOOST_TEST_REQUIRE(u.ok(), (u.ok() ? "" : u.error().message));
    BOOST_TEST(*u == 0.5);
    put(dir / "big.npy", npy(">f8", f8(1)));
    BOOST_TEST(!datasets::read_npy_scalar(dir / "big.npy").ok());
    put(dir / "text.npy", npy("<U1", u1('x')));
    BOOST_TEST(!datasets::read_npy_scalar(dir / "text.npy").ok());
    put(dir / "short.npy", "\x93NUMPY");
    BOOST_TEST(!datasets::read_npy_scalar(dir / "short.npy").ok());
}

BOOST_AUTO_TEST_SUITE_END()
