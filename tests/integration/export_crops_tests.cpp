// `seke export --images-out DIR`: the real binary writes each face's crop once, as the labeling
// path cut it, and the training records point to it.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>

#include "plugin/records/crops.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/records/store.hpp"
#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<Box> kThreeFaces = {{60, 100, 120, 120}, {380, 90, 120, 130}, {700, 110, 110, 120}};

// A 900x400 photo with a differently coloured square where each face is.
std::string write_group_photo(const fs::path& path) {
    cv::Mat image(400, 900, CV_8UC3, cv::Scalar(90, 90, 90));
    const cv::Scalar colours[] = {{200, 40, 40}, {40, 200, 40}, {40, 40, 200}};
    for (std::size_t i = 0; i < kThreeFaces.size(); ++i) {
        const Box& b = kThreeFaces[i];
        cv::rectangle(image, cv::Rect(b.x, b.y, b.w, b.h), colours[i], cv::FILLED);
        cv::circle(image, cv::Point(b.x + b.w / 2, b.y + b.h / 2), 20, cv::Scalar(250, 250, 250), cv::FILLED);
    }
    BOOST_TEST_REQUIRE(cv::imwrite(path.string(), image));
    return test::read_file(path);
}

// One item, one face row per box (none: the whole image is the face).
ItemOutcome labeled_item(const std::string& item_id, const std::string& image, const std::vector<Box>& boxes) {
    static FaceResult result = [] {
        FaceResult r;
        r.ok = true;
        r.labels.expression = "happy";
        return r;
    }();
    ItemOutcome outcome;
    outcome.item.id = item_id;
    outcome.item.image = image;
    outcome.item.status = ItemStatus::done;
    const std::size_t count = std::max<std::size_t>(1, boxes.size());
    for (std::size_t f = 0; f < count; ++f) {
        FeidInput input;
        input.id = face_id_for(item_id, f, count);
        input.image = image;
        if (!boxes.empty()) input.face = boxes[f];
        input.result = &result;
        input.model_version = "v1";
        outcome.faces.push_back(face_row(test::test_knowledge(), input, item_id, f));
    }
    return outcome;
}

void save(const test::LabelFixture& f, const std::vector<ItemOutcome>& outcomes) {
    auto store = Store::open(f.db().string());
    BOOST_TEST_REQUIRE(store.ok());
    BOOST_TEST_REQUIRE((*store)->save_outcomes(outcomes).ok());
}

json read_json(const fs::path& path) {
    return json::parse(test::read_file(path));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_export_crops)

BOOST_AUTO_TEST_CASE(three_faces_get_three_crops_as_the_model_saw_them_written_once) {
    test::LabelFixture f;
    const fs::path photo = f.dir / "group.jpg";
    const std::string photo_bytes = write_group_photo(photo);
    const fs::path single = f.dir / "aligned.jpg";
    write_group_photo(single);
    // Face ids with '/' (an item id from a folder layout) and a whole-image record.
    save(f, {labeled_item("photos/group", photo.string(), kThreeFaces), labeled_item("aligned", single.string(), {})});

    const fs::path crops = f.dir / "crops";
    const fs::path out = f.dir / "llava.json";
    auto run = f.run_seke({"export", "--db", f.db().string(), "--format", "llava", "--out", out.string(),
                           "--images-out", crops.string()});
    BOOST_TEST_REQUIRE(run.exit_code == 0, run.err);
    json summary = test::LabelFixture::summary(run);
    BOOST_TEST(summary["crops_written"] == 3);
    BOOST_TEST(summary["crops_existing"] == 0);
    BOOST_TEST(summary["whole_image_records"] == 1);
    BOOST_TEST(summary["skipped_crops"] == 0);

    // What the labeling path sends the model for these boxes: the same preparer, the default options.
    std::vector<PixelRegion> regions;
    regions.reserve(kThreeFaces.size());
    for (const Box& b : kThreeFaces) regions.push_back({double(b.x), double(b.y), double(b.w), double(b.h)});
    FacePreparer preparer(FaceOptions{}, ImageLimits{});
    auto seen = preparer.prepare_pixel_regions(photo_bytes, regions);
    BOOST_TEST_REQUIRE(seen.ok(), (seen.ok() ? "" : seen.error().message));
    BOOST_TEST_REQUIRE(seen->faces.size() == 3u);

    json entries = read_json(out);
    BOOST_TEST_REQUIRE(entries.size() == 4u);
    std::set<std::string> crop_paths;
    for (const auto& entry : entries) {
        const std::string id = entry["id"];
        const std::string image = entry["image"];
        if (id == "aligned") {
            BOOST_TEST(image == single.string());
            continue;
        }
        const std::size_t face = static_cast<std::size_t>(id.back() - '1');
        BOOST_TEST_REQUIRE(face < 3u, id);
        BOOST_TEST(image == (crops / crop_file_name(id)).string());
        BOOST_TEST(fs::path(image).filename().string().find('/') == std::string::npos);
        crop_paths.insert(image);
        // The crop is the model's picture: same bytes, and the box plus 25 % margin on each side.
        BOOST_TEST((test::read_file(image) == seen->faces[face].jpeg), id);
        cv::Mat crop = cv::imread(image);
        const Box& b = kThreeFaces[face];
        BOOST_TEST(crop.cols == b.w + 2 * static_cast<int>(b.w * 0.25), id);
        BOOST_TEST(crop.rows == b.h + 2 * static_cast<int>(b.h * 0.25), id);
    }
    BOOST_TEST(crop_paths.size() == 3u);
    std::size_t files = 0;
    for (const auto& file : fs::directory_iterator(crops)) files += file.path().extension() == ".jpg";
    BOOST_TEST(files == 3u);

    // A second run (another format) writes nothing: every crop is there already.
    std::map<std::string, fs::file_time_type> times;
    for (const auto& path : crop_paths) times[path] = fs::last_write_time(path);
    const fs::path feid = f.dir / "feid.jsonl";
    auto again = f.run_seke({"export", "--db", f.db().string(), "--format", "feid-jsonl", "--out", feid.string(),
                             "--images-out", crops.string()});
    BOOST_TEST_REQUIRE(again.exit_code == 0, again.err);
    BOOST_TEST(test::LabelFixture::summary(again)["crops_written"] == 0);
    BOOST_TEST(test::LabelFixture::summary(again)["crops_existing"] == 3);
    for (const auto& [path, time] : times) BOOST_TEST((fs::last_write_time(path) == time), path);
    // The FEID JSONL keeps the source image and box, and names the crop after the box.
    for (const auto& record : test::read_jsonl(feid)) {
        if (record["id"] == "aligned") {
            BOOST_TEST(!record.contains("crop"));
            continue;
        }
        BOOST_TEST(record["image"] == photo.string());
        BOOST_TEST(record["face"].is_object());
        BOOST_TEST(record["crop"] == (crops / crop_file_name(record["id"])).string());
    }
    // In the line, "crop" follows "face" (json above sorts keys; the file keeps the record's order).
    std::istringstream lines(test::read_file(feid));
    for (std::string line; std::getline(lines, line);) {
        if (line.find("\"crop\"") == std::string::npos) continue;
        BOOST_TEST(line.find("\"face\":") < line.find("\"crop\":"));
        BOOST_TEST(line.find("\"crop\":") < line.find("\"labels\":"));
    }

    // ShareGPT points at the crops too; without --images-out nothing changes.
    const fs::path sharegpt = f.dir / "sharegpt.json";
    BOOST_TEST_REQUIRE(f.run_seke({"export", "--db", f.db().string(), "--format", "sharegpt", "--out",
                                   sharegpt.string(), "--images-out", crops.string()})
                           .exit_code == 0);
    for (const auto& entry : read_json(sharegpt))
        BOOST_TEST((entry["images"][0] == single.string() || crop_paths.count(entry["images"][0]) == 1));
    const fs::path plain = f.dir / "plain.json";
    auto plain_run = f.run_seke({"export", "--db", f.db().string(), "--format", "llava", "--out", plain.string()});
    BOOST_TEST_REQUIRE(plain_run.exit_code == 0, plain_run.err);
    BOOST_TEST(!test::LabelFixture::summary(plain_run).contains("crops_written"));
    for (const auto& entry : read_json(plain))
        BOOST_TEST((entry["image"] == photo.string() || entry["image"] == single.string()));
}

BOOST_AUTO_TEST_CASE(each_face_is_cut_with_the_margin_size_and_quality_it_was_labeled_with) {
    test::LabelFixture f;
    f.make_data(1);
    f.start_fake();
    const fs::path photo = f.dir / "group.jpg";
    const std::string photo_bytes = write_group_photo(photo);
    // Two faces of one photo, each given by its box, labeled with options other than the defaults.
    std::string manifest;
    for (std::size_t i = 0; i < 2; ++i) {
        const Box& b = kThreeFaces[i];
        manifest +=
            json{{"id", "face" + std::to_string(i + 1)}, {"image", photo.string()}, {"box", {b.x, b.y, b.w, b.h}}}
                .dump() +
            "\n";
    }
    test::write_file(f.manifest(), manifest);
    auto labeled = f.label({"--face-margin", "0.4", "--face-size", "64", "--jpeg-quality", "70"});
    BOOST_TEST_REQUIRE(labeled.exit_code == 0, labeled.err);
    // And a face of a store written before the crop settings were kept: the export's options cut it.
    const fs::path older = f.dir / "older.jpg";
    const std::string older_bytes = write_group_photo(older);
    save(f, {labeled_item("older", older.string(), {kThreeFaces[2]})});

    // The export runs with the default face options, and one of its own for the older face.
    const fs::path crops = f.dir / "crops";
    auto run = f.run_seke({"export", "--db", f.db().string(), "--format", "llava", "--out",
                           (f.dir / "llava.json").string(), "--images-out", crops.string(), "--face-margin", "0.1"});
    BOOST_TEST_REQUIRE(run.exit_code == 0, run.err);
    json summary = test::LabelFixture::summary(run);
    BOOST_TEST(summary["crops_written"] == 3);
    BOOST_TEST(summary["crops_with_export_options"] == 1);

    // What labeling cut (and the model saw): the same preparer with the labeling options, each
    // face alone (each manifest line is an item of its own).
    FaceOptions labeling;
    labeling.margin = 0.4;
    labeling.longest_side = 64;
    labeling.jpeg_quality = 70;
    const FacePreparer labeling_preparer(labeling, ImageLimits{});
    for (std::size_t i = 0; i < 2; ++i) {
        const std::string id = "face" + std::to_string(i + 1);
        const Box& b = kThreeFaces[i];
        auto seen = labeling_preparer.prepare_pixel_regions(photo_bytes,
                                                            {{double(b.x), double(b.y), double(b.w), double(b.h)}});
        BOOST_TEST_REQUIRE(seen.ok(), (seen.ok() ? "" : seen.error().message));
        const fs::path crop = crops / crop_file_name(id);
        BOOST_TEST_REQUIRE(fs::exists(crop), id);
        BOOST_TEST((test::read_file(crop) == seen->faces.front().jpeg), id);
        // The box and 40 % on each side, brought down to 64 pixels on its longest side.
        cv::Mat pixels = cv::imread(crop.string());
        const int w = b.w + 2 * static_cast<int>(b.w * 0.4), h = b.h + 2 * static_cast<int>(b.h * 0.4);
        BOOST_TEST(std::max(pixels.cols, pixels.rows) == 64, id);
        BOOST_TEST(pixels.cols == static_cast<int>(std::lround(64.0 * w / std::max(w, h))), id);
    }
    // The older face: the export's margin (0.1) and the default size, not the labeling run's.
    FaceOptions exporting;
    exporting.margin = 0.1;
    const Box& b = kThreeFaces[2];
    auto cut = FacePreparer(exporting, ImageLimits{})
                   .prepare_pixel_regions(older_bytes, {{double(b.x), double(b.y), double(b.w), double(b.h)}});
    BOOST_TEST_REQUIRE(cut.ok());
    BOOST_TEST((test::read_file(crops / crop_file_name("older")) == cut->faces.front().jpeg));
    cv::Mat pixels = cv::imread((crops / crop_file_name("older")).string());
    BOOST_TEST(pixels.cols == b.w + 2 * static_cast<int>(b.w * 0.1));
    BOOST_TEST(pixels.rows == b.h + 2 * static_cast<int>(b.h * 0.1));
}

BOOST_AUTO_TEST_CASE(a_crop_that_cannot_be_made_is_reported_and_the_record_keeps_its_image) {
    test::LabelFixture f;
    const fs::path photo = f.dir / "group.jpg";
    write_group_photo(photo);
    const std::string gone = (f.dir / "gone.jpg").string();
    // An image that is not there, and one whose second box lies outside it: its first face is still cut.
    save(f, {labeled_item("gone", gone, {{10, 10, 50, 50}}),
             labeled_item("group", photo.string(), {kThreeFaces[0], {5000, 5000, 50, 50}})});

    const fs::path out = f.dir / "llava.json";
    const fs::path crops = f.dir / "crops";
    auto run = f.run_seke({"export", "--db", f.db().string(), "--format", "llava", "--out", out.string(),
                           "--images-out", crops.string()});
    BOOST_TEST(run.exit_code == 3, run.err);  // partial: every record exported, two crops missing
    BOOST_TEST(run.err.find("skipped-crop gone: not_found: ") != std::string::npos, run.err);
    BOOST_TEST(run.err.find("skipped-crop group_face2: invalid_argument: ") != std::string::npos, run.err);
    json summary = test::LabelFixture::summary(run);
    BOOST_TEST(summary["records"] == 3);
    BOOST_TEST(summary["crops_written"] == 1);
    BOOST_TEST(summary["skipped_crops"] == 2);
    BOOST_TEST_REQUIRE(summary["skipped_crop_reasons"].size() == 2u);
    BOOST_TEST(summary["skipped_crop_reasons"][0].get<std::string>().rfind("gone: ", 0) == 0);
    std::map<std::string, std::string> images;
    for (const auto& entry : read_json(out)) images[entry["id"]] = entry["image"];
    BOOST_TEST(images["gone"] == gone);
    BOOST_TEST(images["group_face1"] == (crops / "group_face1.jpg").string());
    BOOST_TEST(fs::exists(crops / "group_face1.jpg"));
    BOOST_TEST(images["group_face2"] == photo.string());
    BOOST_TEST(!fs::exists(crops / "group_face2.jpg"));
}

BOOST_AUTO_TEST_CASE(a_crop_folder_that_cannot_be_written_is_an_error) {
    test::LabelFixture f;
    save(f, {labeled_item("group", (f.dir / "group.jpg").string(), {kThreeFaces[0]})});
    const fs::path blocker = f.dir / "a_file";
    test::write_file(blocker, "not a folder");
    const fs::path out = f.dir / "llava.json";
    auto run = f.run_seke({"export", "--db", f.db().string(), "--format", "llava", "--out", out.string(),
                           "--images-out", (blocker / "crops").string()});
    BOOST_TEST(run.exit_code == 1, run.err);
    BOOST_TEST(run.err.find("cannot create the crop folder") != std::string::npos, run.err);
    BOOST_TEST(!fs::exists(out));
}

BOOST_AUTO_TEST_SUITE_END()
