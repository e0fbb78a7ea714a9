// From datasets in their native layouts to a scored benchmark, with the real binary and the fake
// VLLM on 127.0.0.1: `seke import` (BP4D and RAF-DB) → `seke label` → `seke export` →
// `seke feab build` → `seke feab score`, and the same sources through `seke feid build`. A BP4D
// frame's coded AUs stay the source's; the AUs BP4D does not code are the model's.
#include <boost/test/unit_test.hpp>

#include <set>

#include "plugin/records/crops.hpp"
#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kBp4dAus{"AU1",  "AU2",  "AU4",  "AU6",  "AU7",  "AU10",
                                        "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"};

std::set<std::string> as_set(const json& codes) {
    return std::set<std::string>(codes.begin(), codes.end());
}

// BP4D and RAF-DB as distributed, their pictures the fake's code images (so the fake knows which
// item it is shown): BP4D's F001 (fold part1) frames 1-4 and M011 (part2) frames 1-2 are the
// fake's items 1-6; RAF-DB's train_00001 and test_00001 its items 7 and 8. BP4D's cells
// contradict the face (an AU the face shows is coded 0, one it does not show 1), so a coded AU
// the model's answer kept would show.
struct NativeSources {
    fs::path bp4d, rafdb;
    std::map<std::string, std::string> fake_id;                 // source_id → the fake's item id
    std::map<std::string, std::set<std::string>> bp4d_present;  // BP4D source_id → AUs its cells mark present
};

NativeSources write_native_sources(const test::LabelFixture& f) {
    NativeSources out;
    out.bp4d = f.dir / "BP4D";
    out.rafdb = f.dir / "RAF-DB" / "basic";
    const auto truth = f.truth();
    auto image_of = [&](int n) {
        char id[16];
        std::snprintf(id, sizeof id, "s%05d", n);
        return std::make_pair(std::string(id), f.data() / truth.at(id)["image"].get<std::string>());
    };
    std::string header = "0";
    for (const auto& code : kBp4dAus) header += "," + code.substr(2);
    int item = 1;
    for (const auto& [subject, frames] : std::vector<std::pair<std::string, int>>{{"F001", 4}, {"M011", 2}}) {
        std::string csv = header + "\n";
        for (int frame = 1; frame <= frames; ++frame, ++item) {
            const auto [id, image] = image_of(item);
            const auto shown = as_set(truth.at(id)["action_units"]);
            const std::string source_id = subject + "_T1_" + std::to_string(frame);
            csv += std::to_string(frame);
            for (const auto& code : kBp4dAus) {
                const bool present = shown.count(code) == 0;
                csv += present ? ",1" : ",0";
                if (present) out.bp4d_present[source_id].insert(code);
            }
            csv += "\n";
            fs::create_directories(out.bp4d / "Sequences(2D+3D)" / subject / "T1");
            fs::copy_file(image, out.bp4d / "Sequences(2D+3D)" / subject / "T1" / (std::to_string(frame) + ".jpg"));
            out.fake_id[source_id] = id;
        }
        fs::create_directories(out.bp4d / "AUCoding/AU_OCC");
        test::write_file(out.bp4d / "AUCoding/AU_OCC" / (subject + "_T1.csv"), csv);
    }
    fs::create_directories(out.rafdb / "Image/aligned");
    fs::create_directories(out.rafdb / "EmoLabel");
    for (const auto& [name, n] : std::vector<std::pair<std::string, int>>{{"train_00001", 7}, {"test_00001", 8}}) {
        const auto [id, image] = image_of(n);
        fs::copy_file(image, out.rafdb / "Image/aligned" / (name + "_aligned.jpg"));
        out.fake_id[name] = id;
    }
    test::write_file(out.rafdb / "EmoLabel/list_patition_label.txt", "train_00001.jpg 4\ntest_00001.jpg 5\n");
    return out;
}

// The uncoded-AU rule on the FEID records of BP4D frames: coded AUs as the CSV says, provenance
// source; the others as the model answered, provenance model.
void check_bp4d_records(const std::vector<json>& records, const NativeSources& sources,
                        const std::map<std::string, std::vector<json>>& answered) {
    int bp4d_records = 0;
    int uncoded_present = 0;
    for (const auto& r : records) {
        if (r["source"] != "bp4d") continue;
        ++bp4d_records;
        const std::string source_id = r["source_id"];
        const std::string fake_id = sources.fake_id.at(source_id);
        BOOST_TEST_REQUIRE(answered.count(fake_id) == 1u, fake_id);
        const auto model_said = as_set(answered.at(fake_id).front()["action_units"]);
        const auto got = as_set(r["labels"]["action_units"]);
        const auto& present = sources.bp4d_present.at(source_id);
        for (const auto& au : test::test_knowledge().action_units) {
            const bool coded = std::find(kBp4dAus.begin(), kBp4dAus.end(), au.code) != kBp4dAus.end();
            if (coded) {
                BOOST_TEST(got.count(au.code) == present.count(au.code), source_id << " " << au.code);
                BOOST_TEST(r.at("au_provenance").value(au.code, "") == "source", source_id << " " << au.code);
            } else {
                BOOST_TEST(got.count(au.code) == model_said.count(au.code), source_id << " " << au.code);
                BOOST_TEST(r.at("au_provenance").value(au.code, "") == "model", source_id << " " << au.code);
                uncoded_present += got.count(au.code) > 0;
            }
        }
    }
    BOOST_TEST(bp4d_records == 6);
    BOOST_TEST(uncoded_present > 0);  // the model did find some AU BP4D does not code
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_feid_feab_build)

BOOST_AUTO_TEST_CASE(native_layouts_to_a_scored_benchmark) {
    test::LabelFixture f;
    f.make_data(8);
    fake::FakeOptions options;
    options.record_answers = true;
    f.start_fake(options);
    const auto sources = write_native_sources(f);

    const auto work = f.dir / "work";
    fs::create_directories(work);
    auto run = [&](const std::vector<std::string>& args, int expected = 0) {
        auto result = f.run_seke(args);
        BOOST_TEST_REQUIRE(result.exit_code == expected, result.err);
        return result;
    };
    run({"import", "bp4d", sources.bp4d.string(), "--out", (work / "bp4d.jsonl").string()});
    run({"import", "bp4d", sources.bp4d.string(), "--split", "part2", "--out", (work / "bp4d-train.jsonl").string()});
    run({"import", "rafdb", sources.rafdb.string(), "--out", (work / "rafdb.jsonl").string()});
    for (const char* manifest : {"bp4d.jsonl", "rafdb.jsonl"})
        run({"label", "--input", (work / manifest).string(), "--db", f.db().string(), "--face-detection", "off",
             "--sampling", "greedy"});
    const auto records = f.export_records();
    BOOST_TEST_REQUIRE(records.size() == 8u);
    check_bp4d_records(records, sources, f.server->stats().answered);

    // The benchmark: RAF-DB's test split and BP4D's folds, without the subject of the training
    // manifest (M011). Eligible: F001's 4 frames and RAF-DB's one; 4 drawn, one per source first.
    const auto truth_path = work / "feab.jsonl";
    auto build = [&] {
        return run({"feab", "build", "--from", (work / "bp4d.jsonl").string(), (work / "rafdb.jsonl").string(),
                    "--exclude-subjects-of", (work / "bp4d-train.jsonl").string(), "--test-splits", "test,part1,part2",
                    "--size", "4", "--seed", "11", "--out", truth_path.string()});
    };
    json summary = json::parse(build().out);
    BOOST_TEST(summary["selected"] == 4);
    BOOST_TEST(summary["sources"]["bp4d"]["lines"] == 6);
    BOOST_TEST(summary["sources"]["bp4d"]["training_subject"] == 2);
    BOOST_TEST(summary["sources"]["bp4d"]["selected"] == 3);
    BOOST_TEST(summary["sources"]["rafdb"]["other_splits"] == 1);
    BOOST_TEST(summary["sources"]["rafdb"]["selected"] == 1);
    const std::string first_build = test::read_file(truth_path);
    build();
    BOOST_TEST(test::read_file(truth_path) == first_build);  // same inputs and seed: the same file

    const auto truth = test::read_jsonl(truth_path);
    BOOST_TEST_REQUIRE(truth.size() == 4u);
    for (const auto& line : truth) {
        BOOST_TEST(line.value("subject", "") != "M011");
        if (line["source"] == "bp4d") {
            BOOST_TEST((as_set(line["au_coded"]) == std::set<std::string>(kBp4dAus.begin(), kBp4dAus.end())));
            BOOST_TEST(
                (as_set(line["action_units"]) == sources.bp4d_present.at(line.at("source_id").get<std::string>())));
            BOOST_TEST(fs::is_regular_file(work / line["image"].get<std::string>()));
        } else {
            BOOST_TEST(line["id"] == "rafdb/test_00001");
            BOOST_TEST(line["expression"] == "sad");
            BOOST_TEST(!line.contains("au_coded"));
        }
    }

    // Scored against the export: every truth item matched; AUs BP4D does not code count nowhere,
    // and the coded ones (the source's own labels, kept) without an error.
    const auto report_dir = work / "report";
    auto scored = f.run_seke({"feab", "score", "--truth", truth_path.string(), "--pred",
                              (f.dir / "export-feid-jsonl").string(), "--out", report_dir.string()});
    BOOST_TEST_REQUIRE((scored.exit_code == 0 || scored.exit_code == 3), scored.err);
    json report = json::parse(test::read_file(report_dir / "report.json"));
    BOOST_TEST(report["inputs"]["matched"] == 4);
    BOOST_TEST(report["overall"]["expression"]["accuracy"] == 1.0);
    for (const auto& au : report["overall"]["action_units"]["per_au"]) {
        const std::string code = au["code"];
        const int counted = au["tp"].get<int>() + au["fp"].get<int>() + au["fn"].get<int>() + au["tn"].get<int>();
        if (std::find(kBp4dAus.begin(), kBp4dAus.end(), code) != kBp4dAus.end()) {
            BOOST_TEST(counted == 3, code);
            BOOST_TEST(au["fp"].get<int>() + au["fn"].get<int>() == 0, code);
        } else {
            BOOST_TEST(counted == 0, code);
        }
    }
}

BOOST_AUTO_TEST_CASE(feid_build_imports_labels_and_exports_in_one_resumable_command) {
    test::LabelFixture f;
    f.make_data(8);
    fake::FakeOptions options;
    options.record_answers = true;
    f.start_fake(options);
    const auto sources = write_native_sources(f);
    const auto out = f.dir / "feid-out";
    const json config = {{"out", out.string()},
                         {"formats", {"feid-jsonl", "llava"}},
                         {"settings", {{"face", {{"detection", "off"}}}, {"engine", {{"mode", "greedy"}}}}},
                         {"sources",
                          {{{"dataset", "bp4d"}, {"root", sources.bp4d.string()}},
                           {{"dataset", "rafdb"}, {"root", sources.rafdb.string()}, {"split", "test"}}}}};
    const auto config_path = f.dir / "feid-build.json";
    test::write_file(config_path, config.dump(2));

    auto first = f.run_seke({"feid", "build", config_path.string()});
    BOOST_TEST_REQUIRE(first.exit_code == 0, first.err);
    json summary = test::LabelFixture::summary(first);
    BOOST_TEST(summary["sources"][0]["imported"] == "now");
    BOOST_TEST(summary["sources"][0]["lines"] == 6);
    BOOST_TEST(summary["sources"][1]["lines"] == 1);
    BOOST_TEST(summary["label"]["labeled_now"] == 7);
    BOOST_TEST_REQUIRE(summary["exports"].size() == 2u);
    BOOST_TEST(summary["exports"][0]["records"] == 7);
    BOOST_TEST(summary["exports"][1]["records"] == 7);
    const auto records = test::read_jsonl(out / "feid.jsonl");
    BOOST_TEST_REQUIRE(records.size() == 7u);
    check_bp4d_records(records, sources, f.server->stats().answered);
    BOOST_TEST(json::parse(test::read_file(out / "feid-llava.json")).size() == 7u);

    // Re-run, the settings now in a seke config file named relative to CONFIG: nothing imported
    // or labeled again (same settings, same model version), the exports written again.
    test::write_file(f.dir / "seke-settings.json", config["settings"].dump());
    json by_path = config;
    by_path["settings"] = "seke-settings.json";
    test::write_file(config_path, by_path.dump(2));
    const auto requests = f.server->stats().total_requests;
    auto second = f.run_seke({"feid", "build", config_path.string()});
    BOOST_TEST_REQUIRE(second.exit_code == 0, second.err);
    summary = test::LabelFixture::summary(second);
    BOOST_TEST(summary["sources"][0]["imported"] == "already");
    BOOST_TEST(summary["sources"][1]["imported"] == "already");
    BOOST_TEST(summary["label"]["labeled_now"] == 0);
    BOOST_TEST(summary["label"]["already_done"] == 7);
    BOOST_TEST(f.server->stats().total_requests == requests);
    BOOST_TEST(summary["exports"][0]["records"] == 7);

    // The same CONFIG in YAML is the same run: the same sources (nothing imported again), the
    // same settings (so the same model version: nothing labeled again), the same exports.
    const std::string first_export = test::read_file(out / "feid.jsonl");
    const auto yaml_path = f.dir / "feid-build.yaml";
    test::write_file(yaml_path, "out: " + json(out.string()).dump() +
                                    "\nformats: [feid-jsonl, llava]\n"
                                    "settings:\n  face: {detection: off}\n  engine:\n    mode: greedy\n"
                                    "sources:\n  - dataset: bp4d\n    root: " +
                                    json(sources.bp4d.string()).dump() + "\n  - {dataset: rafdb, root: " +
                                    json(sources.rafdb.string()).dump() + ", split: test}\n");
    auto third = f.run_seke({"feid", "build", yaml_path.string()});
    BOOST_TEST_REQUIRE(third.exit_code == 0, third.err);
    summary = test::LabelFixture::summary(third);
    BOOST_TEST(summary["sources"][0]["imported"] == "already");
    BOOST_TEST(summary["sources"][1]["imported"] == "already");
    BOOST_TEST(summary["label"]["labeled_now"] == 0);
    BOOST_TEST(summary["label"]["already_done"] == 7);
    BOOST_TEST(f.server->stats().total_requests == requests);
    BOOST_TEST((test::read_file(out / "feid.jsonl") == first_export));
}

BOOST_AUTO_TEST_CASE(feid_build_writes_the_crops_a_yaml_config_asks_for) {
    test::LabelFixture f;
    f.make_data(1);
    f.start_fake();
    // RAF-DB's original photo with its bounding-box file: a record with a box, so a crop.
    const fs::path rafdb = f.dir / "RAF-DB" / "basic";
    fs::create_directories(rafdb / "Image/original");
    fs::create_directories(rafdb / "Annotation/boundingbox");
    fs::create_directories(rafdb / "EmoLabel");
    const auto truth = f.truth();
    fs::copy_file(f.data() / truth.at("s00001")["image"].get<std::string>(), rafdb / "Image/original/test_0001.jpg");
    test::write_file(rafdb / "Annotation/boundingbox/test_0001_boundingbox.txt", "16.0 16.0 112.0 112.0\n");
    test::write_file(rafdb / "EmoLabel/list_patition_label.txt", "test_0001.jpg 4\n");
    const auto config_path = f.dir / "build.yml";
    test::write_file(config_path,
                     "out: feid-out\nimages_out: crops\nformats: [llava]\n"
                     "settings: {engine: {mode: greedy}}\n"
                     "sources:\n  - {dataset: rafdb, root: RAF-DB/basic, images: original}\n");
    auto run = f.run_seke({"feid", "build", config_path.string()});
    BOOST_TEST_REQUIRE(run.exit_code == 0, run.err);
    json summary = test::LabelFixture::summary(run);
    BOOST_TEST(summary["crops"]["images_out"] == (f.dir / "crops").string());
    BOOST_TEST(summary["crops"]["crops_written"] == 1);
    BOOST_TEST(summary["crops"]["skipped_crops"] == 0);
    const fs::path crop = f.dir / "crops" / crop_file_name("rafdb/test_0001");
    BOOST_TEST(fs::exists(crop));
    const json llava = json::parse(test::read_file(f.dir / "feid-out" / "feid-llava.json"));
    BOOST_TEST_REQUIRE(llava.size() == 1u);
    BOOST_TEST(llava[0]["image"] == crop.string());
}

BOOST_AUTO_TEST_CASE(a_bad_build_config_is_a_usage_error_naming_what_is_wrong) {
    test::LabelFixture f;
    const auto config_path = f.dir / "feid-build.json";
    auto fails_with = [&](const std::string& config, const std::string& message) {
        test::write_file(config_path, config);
        auto result = f.run_seke({"feid", "build", config_path.string()});
        BOOST_TEST(result.exit_code == 2, config);
        const std::string as_printed = json(message).dump();  // stderr's error is JSON: quotes escaped
        BOOST_TEST(result.err.find(as_printed.substr(1, as_printed.size() - 2)) != std::string::npos, result.err);
    };
    fails_with(R"({"out": "o", "sources": [{"dataset": "bp4d", "root": "r"}], "model": {}})", "unknown key \"model\"");
    fails_with(R"({"out": "o", "sources": [{"dataset": "bp4d"}]})", "needs \"dataset\" and \"root\"");
    fails_with(R"({"out": "o", "sources": [{"dataset": "bp4d", "root": "r", "every": 0}]})", "source field \"every\"");
    fails_with(R"({"out": "o", "formats": ["csv"], "sources": [{"dataset": "bp4d", "root": "r"}]})",
               "format \"csv\" is not one of");
    fails_with(R"({"out": "o", "sources": [{"dataset": "bp4d", "root": "r"}, {"dataset": "bp4d", "root": "s"}]})",
               "two sources import the same (bp4d.jsonl)");
    fails_with(R"({"out": "o", "settings": {"engine": {"nope": 1}}, "sources": [{"dataset": "bp4d", "root": "r"}]})",
               "nope");
    fails_with("[]", "not a JSON object");
    fails_with(std::string(100'000, '['), "nested too deep");
    // YAML, named by its extension: a malformed one is an error at its line.
    const auto yaml_path = f.dir / "feid-build.yaml";
    auto yaml_fails_with = [&](const std::string& config, const std::string& message) {
        test::write_file(yaml_path, config);
        auto result = f.run_seke({"feid", "build", yaml_path.string()});
        BOOST_TEST(result.exit_code == 2, config);
        BOOST_TEST(result.err.find(message) != std::string::npos, result.err);
    };
    yaml_fails_with("out: o\nsources:\n  - dataset: bp4d\n root: r\n", yaml_path.string() + ":4:");
    yaml_fails_with("out: o\nout: p\n", yaml_path.string() + ":2:1: key \\\"out\\\" is given twice");
    yaml_fails_with("- out\n", "not a YAML mapping");
    yaml_fails_with("out: o\nsources: [{dataset: bp4d, root: r}]\nmodel: {}\n", "unknown key \\\"model\\\"");
    test::write_file(config_path, R"({"out": "o", "sources": [{"dataset": "bp4d", "root": "r"}]})");
    auto with_db = f.run_seke({"feid", "build", config_path.string(), "--db", (f.dir / "x.db").string()});
    BOOST_TEST(with_db.exit_code == 2);
    BOOST_TEST(with_db.err.find("--db is not taken") != std::string::npos, with_db.err);
}

BOOST_AUTO_TEST_CASE(feab_build_usage_errors_write_no_truth_file) {
    test::LabelFixture f;
    const auto manifest = f.dir / "m.jsonl";
    test::write_file(manifest, R"({"id": "a", "image": "a.jpg", "known": {"expression": "sad"}, "split": "test"})"
                               "\n");
    const auto out = f.dir / "truth.jsonl";
    auto fails_with = [&](const std::vector<std::string>& args, const std::string& message) {
        std::vector<std::string> argv = {"feab", "build"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto result = f.run_seke(argv);
        BOOST_TEST(result.exit_code == 2, message);
        BOOST_TEST(result.err.find(message) != std::string::npos, result.err);
        BOOST_TEST(!fs::exists(out));
    };
    fails_with({"--size", "3", "--out", out.string()}, "--from");
    fails_with({"--from", manifest.string(), "--size", "0", "--out", out.string()}, "--size takes a whole number");
    fails_with({"--from", manifest.string(), "--out", out.string()}, "--size N");
    fails_with({"--from", manifest.string(), "--size", "2"}, "--out");
    fails_with({"--from", (f.dir / "none.jsonl").string(), "--size", "2", "--out", out.string()}, "no manifest at");
    fails_with({"--from", manifest.string(), "--size", "2", "--seed", "-1", "--out", out.string()}, "--seed");
    fails_with({"--from", manifest.string(), "--size", "2", "--bogus", "--out", out.string()}, "--bogus");

    // A line seke label would reject is named and makes the exit code 3; the good line is drawn.
    test::write_file(manifest, test::read_file(manifest) + "{\"id\": \"b\"}\n");
    auto partial = f.run_seke({"feab", "build", "--from", manifest.string(), "--size", "2", "--out", out.string()});
    BOOST_TEST(partial.exit_code == 3, partial.err);
    BOOST_TEST(partial.err.find("rejected_input") != std::string::npos, partial.err);
    BOOST_TEST(json::parse(partial.out)["rejected_lines"] == 1);
    const auto drawn = test::read_jsonl(out);
    BOOST_TEST_REQUIRE(drawn.size() == 1u);
    BOOST_TEST(!drawn[0].contains("source"));  // a line naming no source: no per-source table entry
}

BOOST_AUTO_TEST_SUITE_END()
