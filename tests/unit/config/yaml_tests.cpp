// YAML read into the JSON value the JSON readers take: the same value as the equivalent JSON,
// and every construct JSON has no place for, or past a bound, an error naming the file and line.
#include <boost/test/unit_test.hpp>

#include <string>

#include "plugin/config/yaml.hpp"

using namespace seke;
using nlohmann::ordered_json;

namespace {

std::string error_of(const std::string& text, const YamlLimits& limits = {}) {
    auto parsed = parse_yaml(text, "build.yaml", limits);
    BOOST_TEST_REQUIRE(!parsed.ok(), text);
    BOOST_TEST((parsed.error().code == errc::invalid_argument));
    return parsed.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_yaml)

BOOST_AUTO_TEST_CASE(a_yaml_file_reads_as_the_json_it_stands_for) {
    const std::string yaml = R"(# a build config
out: feid-build
formats: [feid-jsonl, llava]
settings:
  face: {detection: "off", margin: 0.3}
  engine:
    mode: greedy
    samples: 3
sources:
  - dataset: bp4d
    root: /data/BP4D
    every: 5
  - {dataset: rafdb, root: "RAF-DB/basic", split: test}
flags:
  quoted_number: "5"
  single: '1e3'
  plain_float: -1.5e2
  leading_dot: .5
  big: 123456789012345678901234567890
  yes_text: yes
  truth: True
  nothing: ~
  empty:
  null_word: null
  block: |
    two
    lines
  tagged: !!str 12
  version: 1.2.3
)";
    const auto json = ordered_json::parse(R"({
  "out": "feid-build",
  "formats": ["feid-jsonl", "llava"],
  "settings": {"face": {"detection": "off", "margin": 0.3}, "engine": {"mode": "greedy", "samples": 3}},
  "sources": [{"dataset": "bp4d", "root": "/data/BP4D", "every": 5},
              {"dataset": "rafdb", "root": "RAF-DB/basic", "split": "test"}],
  "flags": {"quoted_number": "5", "single": "1e3", "plain_float": -150.0, "leading_dot": 0.5,
            "big": 1.2345678901234568e29, "yes_text": "yes", "truth": true, "nothing": null, "empty": null,
            "null_word": null, "block": "two\nlines\n", "tagged": "12", "version": "1.2.3"}
})");
    auto parsed = parse_yaml(yaml, "build.yaml");
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    BOOST_TEST(parsed->dump() == json.dump());  // the same values, the same key order
    BOOST_TEST((*parsed)["settings"]["engine"]["samples"].is_number_integer());
    BOOST_TEST((*parsed)["sources"][0]["every"].is_number_integer());

    // JSON is YAML too: a JSON text read as YAML is the same value.
    auto as_yaml = parse_yaml(json.dump(2), "build.yaml");
    BOOST_TEST_REQUIRE(as_yaml.ok());
    BOOST_TEST(as_yaml->dump() == json.dump());
}

BOOST_AUTO_TEST_CASE(malformed_yaml_is_an_error_naming_the_file_line_and_column) {
    const std::string unclosed = error_of("out: o\nsources: [a, b\nformats: x\n");
    BOOST_TEST(unclosed.rfind("build.yaml:", 0) == 0, unclosed);
    const std::string bad_indent = error_of("out: o\nsources:\n  - a\n - b\n");
    BOOST_TEST(bad_indent.rfind("build.yaml:4:", 0) == 0, bad_indent);
    BOOST_TEST(error_of("out: o\nout: p\n").rfind("build.yaml:2:1: key \"out\" is given twice", 0) == 0);
    BOOST_TEST(error_of("a: !!binary aGVsbG8=\n").find("build.yaml:1:4: tag") == 0);
    BOOST_TEST(error_of("? [a, b]\n: c\n").find("a key must be a scalar") != std::string::npos);
    BOOST_TEST(error_of("a: 1\n---\nb: 2\n").find("build.yaml:3:1: a second YAML document") == 0);
    BOOST_TEST(error_of("").find("no YAML document") != std::string::npos);
    BOOST_TEST(error_of("# only a comment\n").find("no YAML document") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nesting_and_aliases_are_bounded) {
    // Deeper than the limit, in flow and in block style, and far deeper than yaml-cpp's own guard.
    std::string flow(70, '[');
    flow += std::string(70, ']');
    BOOST_TEST(error_of(flow).find("nested deeper than 64 levels") != std::string::npos);
    std::string block;
    for (int level = 0; level < 70; ++level) block += std::string(static_cast<std::size_t>(level), ' ') + "a:\n";
    BOOST_TEST(error_of(block).find("nested deeper than 64 levels") != std::string::npos);
    BOOST_TEST(error_of(std::string(1'000'000, '[')).find("nested deeper than") != std::string::npos);
    // Within the limit it reads.
    auto shallow = parse_yaml(std::string(10, '[') + std::string(10, ']'), "build.yaml");
    BOOST_TEST_REQUIRE(shallow.ok());

    // Aliases are copies: nine levels of ten copies each would be a billion values.
    std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; ++i) {
        const std::string prev = "*a" + std::to_string(i - 1);
        bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) bomb += (k ? ", " : "") + prev;
        bomb += "]\n";
    }
    BOOST_TEST(error_of(bomb).find("more than 100000 values") != std::string::npos);
    YamlLimits few;
    few.max_values = 3;
    BOOST_TEST(error_of("[1, 2, 3]", few).find("more than 3 values") != std::string::npos);
    // A few aliases read as the values they name.
    auto aliased = parse_yaml("base: &b {mode: greedy}\nagain: *b\n", "build.yaml");
    BOOST_TEST_REQUIRE(aliased.ok());
    BOOST_TEST((*aliased)["again"]["mode"] == "greedy");
}

BOOST_AUTO_TEST_CASE(yaml_files_are_named_by_their_extension) {
    BOOST_TEST(is_yaml_path("build.yaml"));
    BOOST_TEST(is_yaml_path("dir/build.YML"));
    BOOST_TEST(!is_yaml_path("build.json"));
    BOOST_TEST(!is_yaml_path("build"));
    BOOST_TEST(!is_yaml_path("conf.yaml/build"));
}

BOOST_AUTO_TEST_SUITE_END()
