#pragma once
// What Label Studio posts to the ML backend, parsed once at the edge (protocol notes §1): the
// JSON object of a body, the project id, and the whole /predict request with its tasks, label
// config and drawn regions. No I/O (the stored label config comes through a callback); never
// throws on any JSON.
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "plugin/label_studio/label_config.hpp"
#include "verify/errors.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke::label_studio {

// A request body that must be a JSON object. Errors: bad_json (not JSON, not an object, or empty
// unless `empty_is_object`).
Result<nlohmann::json> parse_json_body(const std::string& body, bool empty_is_object);

// "62053.1712586036" → "62053"; a missing project is "None", as the Python backend has it.
std::string project_id(const nlohmann::json& body);

// The keys of task.data holding labels the task already has (serve.prior_label_keys, in order
// "expression,valence,arousal,action_units"); an empty key is not read.
struct PriorLabelKeys {
    std::string expression, valence, arousal, action_units;
};
PriorLabelKeys parse_prior_label_keys(const std::string& list);

// Interactive pre-annotation: a face rectangle an annotator just drew (params.context.result),
// labeled alone; the answer reuses its id.
struct DrawnRegion {
    std::string id;
    RegionFraction region;
};

struct PredictTask {
    long long id = -1;              // task.id when it is an integer, else -1
    std::optional<Error> unusable;  // no data object, or no image string in it: answered []
    std::string image;              // task.data[<the config's image key>]
    LabelSet known;                 // prior labels from task.data: facts, never overwritten
    LevelProvenance provenance;     // source for the levels `known` has
};

struct PredictRequest {
    std::string project;                           // project_id()
    std::string label_config;                      // the body's, else the project's stored one
    std::shared_ptr<const LabelingConfig> config;  // label_config parsed; never null
    std::vector<PredictTask> tasks;                // one per task, in order
    std::vector<DrawnRegion> drawn;                // empty for a batch call
    bool config_in_body = false;                   // the body carried label_config: it alone decides the parse
};

// What parsing a /predict body needs from the server.
struct PredictParsing {
    LabelConfigCache& configs;
    // The label config /setup stored for a project; "" when none.
    std::function<std::string(const std::string& project)> stored_config;
    PriorLabelKeys prior_keys;
    const Knowledge& knowledge;
};

// Errors (all 4xx): bad_json as parse_json_body (an empty body included); invalid_argument when
// "tasks" is neither a list nor an object, or when the label config is not XML. A field of
// another type than expected is ignored, and a task that cannot be predicted is marked
// `unusable` rather than failing the request.
Result<PredictRequest> parse_predict_request(const std::string& body, const PredictParsing& parsing);

// Label Studio sends the same /predict body again and again ("Retrieve predictions", each task
// view): its label config alone is kilobytes of escaped XML to lex. A parse that depended on the
// body alone (its own label_config) is kept, keyed by the body's bytes, least recently used
// out first, within kMaxEntries and kMaxBytes; bodies over kMaxBodyBytes are not kept.
// Thread-safe.
class PredictBodyCache {
  public:
    static constexpr std::size_t kMaxEntries = 256;
    static constexpr std::size_t kMaxBodyBytes = std::size_t{256} * 1024;
    static constexpr std::size_t kMaxBytes = std::size_t{16} * 1024 * 1024;

    Result<PredictRequest> parse(const std::string& body, const PredictParsing& parsing);
    [[nodiscard]] std::size_t size() const;

  private:
    struct Entry {
        std::string body;
        PredictRequest request;
    };
    using Order = std::list<Entry>;  // most recently used first
    mutable std::mutex mutex_;
    Order order_;
    std::unordered_map<std::string_view, Order::iterator> by_body_;  // views into order_'s bodies
    std::size_t bytes_ = 0;
};

}  // namespace seke::label_studio
