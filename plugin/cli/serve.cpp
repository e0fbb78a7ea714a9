#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "connectors/label_studio.hpp"
#include "plugin/cli/commands.hpp"
#include "plugin/cli/runtime.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/config/config.hpp"
#include "plugin/cvat/nuclio.hpp"
#include "plugin/cvat/webhook.hpp"
#include "plugin/dashboard/dashboard.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/labeling/knowledge_json.hpp"
#include "plugin/labeling/label_run.hpp"
#include "plugin/labeling/media_work.hpp"
#include "plugin/label_studio/backend.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/server/http_server.hpp"
#include "plugin/server/log.hpp"
#include "plugin/records/store.hpp"

namespace seke {

int run_serve_command(const std::vector<std::string>& args) {
    auto loaded = load_config(args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    Config& config = loaded->config;
    for (const auto& arg : loaded->rest)
        return report_error(make_error(errc::invalid_argument, "seke serve: unknown argument \"" + arg + "\""),
                            kExitUsage);
    server::LogLevel level = server::LogLevel::info;
    server::parse_log_level(config.run.log_level, level);
    server::logger().set_level(level);
    // A request line per request: batched, so no request waits on stderr.
    server::logger().set_buffered(true);

    // The store: --db / SEKE_DB when given, else MODEL_DIR/seke.db, else ./seke.db.
    if (config.run.db_path == RunSettings{}.db_path && !config.serve.model_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(config.serve.model_dir, ec);
        config.run.db_path = (std::filesystem::path(config.serve.model_dir) / "seke.db").string();
    }
    auto setup = load_model_setup(config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    // The fetch, media and deadline threads of both platforms; declared before the runtime so
    // they outlive the engine, whose last callbacks post to them.
    MediaWork media_work(config.serve.media_threads, config.serve.media_fetch_concurrency,
                         config.serve.media_queue_limit);
    // The last fit of this model setup, if any: its version, calibration and examples. The
    // server always starts from it; its own fits (START_TRAINING, /train) replace it.
    auto runtime = open_runtime(config, std::move(*setup), FittedState::last_fit);
    if (!runtime) return report_error(runtime.error(), kExitFatal);
    Runtime& rt = **runtime;
    const Knowledge& knowledge = rt.setup.knowledge;
    Store& store = *rt.store;
    VllmClient& client = *rt.client;
    EngineService& engine = *rt.engine;
    LearnedState& learned = *rt.learned;
    FacePreparer preparer(rt.face, config.image);
    if (auto ready = preparer.ready(); !ready) return report_error(ready.error(), kExitUsage);
    std::stringstream hosts(config.serve.media_host_allowlist);
    for (std::string host; std::getline(hosts, host, ',');)
        if (!host.empty()) config.label_studio.host_allowlist.push_back(host);
    LabelStudioClient media(config.label_studio, config.image);
    auto metrics = std::make_shared<server::MetricsRegistry>();

    auto function_spec = cvat::make_function_spec(config.cvat, knowledge);
    if (!function_spec) return report_error(function_spec.error(), kExitUsage);

    label_studio::Backend backend(
        {config, knowledge, store, engine, media, preparer, *metrics, learned, media_work, &client.stats()});
    cvat::NuclioFunction cvat_function(
        {config, knowledge, store, engine, preparer, *metrics, *function_spec, learned, media_work});
    server::Router router;
    backend.add_routes(router);
    cvat_function.add_routes(router);
    cvat::CvatWebhook cvat_webhook(config.cvat, knowledge, store);  // its signature check is its auth
    cvat_webhook.add_routes(router, config.serve.webhook_body_limit);
    add_dashboard_routes(router, {config, store, learned});
    // A fit made elsewhere (`seke fit`, another replica) is picked up within seconds; on PostgreSQL
    // within a second, told by the fit's transaction.
    FitWatcher fit_watcher(
        store, learned,
        [&engine](const std::shared_ptr<const LearnedModel>& model) {
            engine.set_examples(model->exemplars);
            server::logger().log(server::LogLevel::info, "serve", "fit picked up",
                                 {{"model_version", model->model_version}});
        },
        std::chrono::seconds(2),
        [](const std::string& line) {
            server::logger().log(server::LogLevel::warn, "serve", line, nlohmann::json::object());
        });

    server::ServerOptions options;
    options.host = config.serve.host;
    options.port = static_cast<unsigned short>(config.serve.port);
    options.threads = config.serve.threads;
    options.body_limit = config.serve.body_limit;
    options.max_connections = config.serve.max_connections;
    options.max_connections_per_client = config.serve.max_connections_per_client;
    options.body_progress_timeout_ms = config.serve.body_progress_timeout_ms;
    options.body_min_bytes_per_s = config.serve.body_min_bytes_per_s;
    options.url_prefix = config.serve.url_prefix;
    server::HttpServer http(options, std::move(router), metrics);
    auto port = http.start();
    if (!port) return report_error(port.error(), kExitFatal);
    cvat_function.set_listening_port(*port);
    server::logger().log(server::LogLevel::info, "serve", "listening",
                         {{"url", "http://" + options.host + ":" + std::to_string(*port) + options.url_prefix},
                          {"port", *port},
                          {"db", describe_store(config.run.db_path)},
                          {"model_version", learned.current()->model_version},
                          {"provider", provider_name(config.model.provider)},
                          {"model", config.model.provider == Provider::expert ? "expert" : config.vllm.model},
                          {"basic_auth", !config.serve.basic_auth_user.empty()}});
    // Anyone who can reach the port can label, read thumbnails and post reviews: say so when
    // that is more than this machine.
    const std::string& host = options.host;
    const bool loopback = host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
    if (!loopback && config.serve.basic_auth_user.empty())
        server::logger().log(server::LogLevel::warn, "serve", "listening beyond loopback without authentication",
                             {{"host", host},
                              {"fix",
                               "set BASIC_AUTH_USER and BASIC_AUTH_PASS (--basic-auth-user, --basic-auth-pass), "
                               "or listen on 127.0.0.1 behind a proxy that authenticates"}});
    server::run_until_signal(http, std::chrono::seconds(10));
    backend.shutdown(std::chrono::seconds(10));
    cvat_function.shutdown(std::chrono::seconds(10));
    media_work.join();
    cvat_webhook.shutdown();
    server::logger().log(server::LogLevel::info, "serve", "stopped", nlohmann::json::object());
    server::logger().set_buffered(false);
    return kExitOk;
}

}  // namespace seke
