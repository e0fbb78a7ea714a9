#include "plugin/dashboard/dashboard.hpp"

#include "plugin/server/auth.hpp"
#include "plugin/server/http_types.hpp"

namespace seke {

const char* dashboard_page();  // dashboard_page.cpp: the HTML, script included

namespace {

using nlohmann::json;

json curve(const Calibrator& calibrator) {
    json points = json::array();
    for (int i = 0; i <= 20; ++i) {
        double u = i / 20.0;
        points.push_back({u, calibrator(u)});
    }
    return {{"trusted", calibrator.trusted()}, {"examples", calibrator.examples()}, {"points", points}};
}

}  // namespace

json dashboard_data(Store& store, const LearnedModel& model, std::size_t queue_limit,
                    const std::optional<Price>& price) {
    json out = {{"model_version", model.model_version}, {"fitted_at", model.fitted_at}, {"reviews", model.reviews}};
    if (auto stats = store.face_stats(20)) {
        out["status"] = stats->by_status;
        out["cost"] = {{"requests", stats->requests},
                       {"cached_requests", stats->cached_requests},
                       {"samples", stats->samples},
                       {"prompt_tokens", stats->prompt_tokens},
                       {"cached_prompt_tokens", stats->cached_prompt_tokens},
                       {"completion_tokens", stats->completion_tokens}};
        // What the stored labels cost to make (response-cache reuse included), at today's price.
        const TokenCounts tokens{stats->prompt_tokens, stats->cached_prompt_tokens, stats->completion_tokens};
        out["cost"]["usd"] = price ? json(cost_usd(*price, tokens)) : json("no price for the configured model");
        out["histogram"] = stats->overall_histogram;
    }
    json curves = json::object();
    for (Level level : kAllLevels)
        curves[std::string(level_name(level))] = curve(model.calibration.levels[static_cast<std::size_t>(level)]);
    curves["overall"] = curve(model.calibration.overall);
    out["calibration"] = curves;
    json queue = json::array();
    QueueOptions options;
    options.limit = queue_limit;
    if (auto entries = review_queue(store, model, options)) {
        for (const auto& e : *entries) {
            json labels = json::object();
            if (auto row = store.face(e.face_id); row && row->has_value())
                if (auto record = (*row)->record()) labels = json(record->to_json()["labels"]);
            queue.push_back({{"face_id", e.face_id},
                             {"item_id", e.item_id},
                             {"error_probability", e.error_probability},
                             {"level_error",
                              {{"expression", e.level_error[0]}, {"va", e.level_error[1]}, {"au", e.level_error[2]}}},
                             {"uncertainty",
                              {{"expression", e.uncertainty.expression},
                               {"va", e.uncertainty.va},
                               {"au", e.uncertainty.au},
                               {"overall", e.uncertainty.overall}}},
                             {"labels", labels}});
        }
    }
    out["queue"] = queue;
    // What seke fills of each Label Studio project's config, as /setup or /predict last saw it.
    json projects = json::array();
    constexpr std::size_t kMaxProjects = 200;
    if (auto reports = store.documents(std::string(kControlReportDocument), kMaxProjects))
        for (const auto& report : *reports) {
            json body = json::parse(report.body, nullptr, false);
            if (body.is_object()) projects.push_back(std::move(body));
        }
    out["projects"] = std::move(projects);
    out["feab"] = nullptr;
    if (auto report = store.document("feab_report"); report && report->has_value()) {
        json body = json::parse((*report)->body, nullptr, false);
        if (!body.is_discarded())
            out["feab"] = {{"created_at", (*report)->created_at}, {"name", (*report)->key}, {"report", body}};
    }
    return out;
}

void add_dashboard_routes(server::Router& router, const DashboardDeps& deps) {
    server::AuthSettings auth{deps.config.serve.basic_auth_user, deps.config.serve.basic_auth_pass, {}, {}};
    auto guarded = [&](server::Handler handler) {
        return auth.basic_enabled() ? server::require_basic_auth(auth, std::move(handler)) : handler;
    };
    Store* store = &deps.store;
    LearnedState* learned = &deps.learned;
    const std::optional<Price> price = model_price(deps.config);
    router.get("/ui", guarded([](const server::HttpRequest&, server::Responder responder) {
                   auto response = server::text_response(200, dashboard_page(), "text/html; charset=utf-8");
                   response.set_header("Cache-Control", "no-store");
                   responder.send(std::move(response));
               }));
    router.get("/ui/data",
               guarded([store, learned, price](const server::HttpRequest& request, server::Responder responder) {
                   std::size_t limit = 25;
                   if (auto text = request.query_param("limit")) {
                       try {
                           limit = static_cast<std::size_t>(std::clamp(std::stoi(*text), 1, 500));
                       } catch (...) {
                           return void(responder.send_error(
                               make_error(errc::invalid_argument, "limit must be a number from 1 to 500")));
                       }
                   }
                   responder.send_json(200, dashboard_data(*store, *learned->current(), limit, price));
               }));
    router.get("/ui/thumbnail", guarded([store](const server::HttpRequest& request, server::Responder responder) {
                   auto face = request.query_param("face");
                   if (!face || face->empty())
                       return void(responder.send_error(
                           make_error(errc::invalid_argument, "query parameter face=ID is required")));
                   auto jpeg = store->thumbnail(*face);
                   if (!jpeg) return void(responder.send_error(jpeg.error()));
                   if (jpeg->empty())
                       return void(responder.send_error(make_error(errc::not_found, "no thumbnail for " + *face)));
                   auto response = server::text_response(200, std::move(*jpeg), "image/jpeg");
                   response.set_header("Cache-Control", "max-age=3600");
                   responder.send(std::move(response));
               }));
}

}  // namespace seke
