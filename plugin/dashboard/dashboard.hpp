#pragma once
// GET /ui: one page showing the loop — faces by status, the review queue with thumbnails and
// per-level doubt, cost so far, the uncertainty histogram, the calibration curves and the latest
// FEAB report. Plain HTML and a small script served by seke itself: no build step, no external
// asset, works offline. /ui/data is the JSON the page draws; /ui/thumbnail?face=ID a face's JPEG.
#include <memory>
#include <optional>

#include "plugin/config/config.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/server/router.hpp"
#include "plugin/records/store.hpp"

namespace seke {

struct DashboardDeps {
    const Config& config;
    Store& store;
    LearnedState& learned;
};

// The page's data: counts, cost (in USD at `price`, the configured model's, when there is one),
// histogram, calibration curves, queue, FEAB summary.
nlohmann::json dashboard_data(Store& store, const LearnedModel& model, std::size_t queue_limit,
                              const std::optional<Price>& price = std::nullopt);

// Registers GET /ui, /ui/data and /ui/thumbnail behind the same Basic auth as the API.
void add_dashboard_routes(server::Router& router, const DashboardDeps& deps);

}  // namespace seke
