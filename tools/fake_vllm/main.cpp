// seke-fake-vllm: a fake OpenAI-compatible vision LLM for tests, benchmarks and the no-key demo.
//   seke-fake-vllm serve --truth DIR/truth.jsonl [--port 8089] [--profile NAME] [--fault-429 0.05 ...]
//   seke-fake-vllm make-dataset --out DIR --count 200 [--seed 7] [--known-fraction 0.25]
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "tools/fake_vllm/dataset.hpp"
#include "tools/fake_vllm/fake_server.hpp"

namespace po = boost::program_options;
using namespace seke::fake;

namespace {

void usage(std::ostream& out) {
    out << "usage:\n"
           "  seke-fake-vllm serve --truth FILE [options]   serve POST /v1/chat/completions and the Batch API\n"
           "  seke-fake-vllm make-dataset --out DIR --count N [--seed S] [--size PX]\n"
           "                             [--known-fraction F]\n"
           "  seke-fake-vllm <command> --help\n";
}

bool rate_ok(double r) {
    return r >= 0.0 && r <= 1.0;
}

int serve(const std::vector<std::string>& args) {
    FakeOptions o;
    std::string port_file;
    bool no_prefix_cache = false;
    std::string profile = std::string(default_profile().name);
    po::options_description desc("serve options");
    desc.add_options()("help,h", "this help")("truth", po::value(&o.truth_path),
                                              "truth.jsonl of the dataset (required)")(
        "host", po::value(&o.host)->default_value(o.host), "address to bind")(
        "port", po::value(&o.port)->default_value(o.port), "port (0: ephemeral)")(
        "threads", po::value(&o.threads)->default_value(o.threads), "I/O threads")(
        "seed", po::value(&o.seed)->default_value(o.seed), "seed of the simulated model")(
        "profile", po::value(&profile)->default_value(profile),
        ("how the simulated model behaves: " + profile_names() + " (see tools/fake_vllm/profile.hpp)").c_str())(
        "latency-ms", po::value(&o.latency_ms)->default_value(0), "added to every chat answer")(
        "latency-jitter-ms", po::value(&o.latency_jitter_ms)->default_value(0), "uniform extra latency in [0, J]")(
        "fault-429", po::value(&o.fault_429)->default_value(0), "rate of 429 + Retry-After")(
        "fault-500", po::value(&o.fault_500)->default_value(0), "rate of 500 errors")(
        "fault-hang", po::value(&o.fault_hang)->default_value(0), "rate of unanswered requests")(
        "fault-malformed", po::value(&o.fault_malformed)->default_value(0),
        "rate of prose answers without JSON (per choice)")(
        "fault-truncated", po::value(&o.fault_truncated)->default_value(0), "rate of JSON cut in half (per choice)")(
        "fault-refusal", po::value(&o.fault_refusal)->default_value(0), "rate of refusals (per choice)")(
        "fault-wrong-types", po::value(&o.fault_wrong_types)->default_value(0),
        "rate of ill-typed answers (per choice)")("fault-out-of-vocabulary",
                                                  po::value(&o.fault_out_of_vocabulary)->default_value(0),
                                                  "rate of answers with labels outside the vocabulary (per choice)")(
        "retry-after", po::value(&o.retry_after_s)->default_value(o.retry_after_s), "Retry-After seconds of the 429s")(
        "hang-ms", po::value(&o.hang_ms)->default_value(o.hang_ms), "how long a hang lasts")(
        "ignore-n", po::bool_switch(&o.ignore_n), "one choice whatever n")(
        "reject-json-schema", po::bool_switch(&o.reject_json_schema), "400 on response_format json_schema")(
        "strict-codes", po::bool_switch(&o.strict_codes), "400 on an unreadable image code")(
        "no-prefix-cache", po::bool_switch(&no_prefix_cache), "report no cached prompt tokens")(
        "batch-delay-ms", po::value(&o.batch_delay_ms)->default_value(0),
        "a batch is answered this long after it was made")("batch-fail", po::value(&o.batch_fail)->default_value(0),
                                                           "rate of failed batch lines")(
        "port-file", po::value(&port_file), "write the bound port to this file");
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
        std::cout << desc;
        return 0;
    }
    if (o.truth_path.empty()) throw po::error("--truth is required");
    o.profile = find_profile(profile);
    if (!o.profile) throw po::error("--profile must be one of " + profile_names());
    o.prefix_cache = !no_prefix_cache;
    for (double r : {o.fault_429, o.fault_500, o.fault_hang, o.fault_malformed, o.fault_truncated, o.fault_refusal,
                     o.fault_wrong_types, o.fault_out_of_vocabulary, o.batch_fail})
        if (!rate_ok(r)) throw po::error("fault rates must be in [0, 1]");
    if (o.threads < 1 || o.latency_ms < 0 || o.latency_jitter_ms < 0 || o.hang_ms < 0 || o.batch_delay_ms < 0)
        throw po::error("threads must be >= 1 and times >= 0");

    // Block the stop signals before the server threads start, so only sigwait sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    FakeVllmServer server(o);
    const auto port = server.start();
    if (!port_file.empty()) {
        std::ofstream out(port_file, std::ios::trunc);
        out << port << '\n';
    }
    std::cout << "fake-vllm listening on " << server.base_url() << " (" << server.truth().items().size() << " items)"
              << std::endl;

    int received = 0;
    sigwait(&signals, &received);
    server.stop();
    const auto stats = server.stats();
    std::cerr << "fake-vllm: stopped after " << stats.total_requests << " requests, " << stats.choices << " choices"
              << std::endl;
    return 0;
}

int make_dataset(const std::vector<std::string>& args) {
    DatasetOptions o;
    std::string out;
    po::options_description desc("make-dataset options");
    desc.add_options()("help,h", "this help")("out", po::value(&out), "output directory (required)")(
        "count", po::value(&o.count)->default_value(o.count), "number of items")(
        "seed", po::value(&o.seed)->default_value(o.seed), "seed")("size", po::value(&o.size)->default_value(o.size),
                                                                   "image side in px")(
        "known-fraction", po::value(&o.known_fraction)->default_value(0),
        "fraction of items with one or two known levels in the manifest");
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
        std::cout << desc;
        return 0;
    }
    if (out.empty()) throw po::error("--out is required");
    if (!rate_ok(o.known_fraction)) throw po::error("--known-fraction must be in [0, 1]");
    o.out = out;
    write_dataset(o);
    std::cout << "wrote " << o.count << " items to " << out << " (truth.jsonl, manifest.jsonl, images/)" << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(std::cerr);
        return 2;
    }
    const std::string command = argv[1];
    const std::vector<std::string> args(argv + 2, argv + argc);
    try {
        if (command == "serve") return serve(args);
        if (command == "make-dataset") return make_dataset(args);
        if (command == "--help" || command == "-h" || command == "help") {
            usage(std::cout);
            return 0;
        }
        std::cerr << "seke-fake-vllm: unknown command '" << command << "'\n";
        usage(std::cerr);
        return 2;
    } catch (const po::error& e) {
        std::cerr << "seke-fake-vllm " << command << ": " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "seke-fake-vllm " << command << ": " << e.what() << "\n";
        return 1;
    }
}
