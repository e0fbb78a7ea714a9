#include "plugin/learning/fit.hpp"

#include <algorithm>
#include <bitset>
#include <map>
#include <set>

#include "connectors/crypto.hpp"
#include "plugin/records/feid_record.hpp"

namespace seke {
namespace {

using nlohmann::json;

constexpr const char* kFitKind = "fit";                 // key: model_version
constexpr const char* kCurrentFitKind = "fit_current";  // key: base_version → {"model_version"}
constexpr const char* kFitChannel = "seke_fit";         // told (payload: base_version) when a fit is stored

json labels_to_json(const LabelSet& labels) {
    json out = json::object();
    if (labels.expression) out["expression"] = *labels.expression;
    if (labels.valence) out["valence"] = *labels.valence;
    if (labels.arousal) out["arousal"] = *labels.arousal;
    if (labels.action_units) out["action_units"] = *labels.action_units;
    return out;
}

// A reviewed face that may teach by example: complete human-approved labels and a thumbnail.
struct ExemplarCandidate {
    std::string face_id;
    LabelSet labels;
    Descriptions descriptions;
    std::string key;  // "confusion:<model>→<human>" or "class:<expression>"
};

std::optional<ExemplarCandidate> exemplar_candidate(const FeidRecord& record) {
    if (record.status != "accepted" && record.status != "corrected") return std::nullopt;
    const LabelSet& l = record.labels;
    if (!l.expression || !l.valence || !l.arousal || !l.action_units) return std::nullopt;
    ExemplarCandidate c{record.id, l, record.descriptions, "class:" + *l.expression};
    const LabelSet& model = record.model_labels();
    if (record.status == "corrected" && model.expression && *model.expression != *l.expression)
        c.key = "confusion:" + *model.expression + "->" + *l.expression;
    return c;
}

// Confusions the reviewers fixed first (most frequent first), then one face per class not yet
// shown: the examples cover what the model gets wrong and every class it must tell apart.
std::vector<ExemplarCandidate> choose_exemplars(const std::vector<ExemplarCandidate>& candidates,
                                                const Knowledge* knowledge, std::size_t max_count) {
    std::map<std::string, std::vector<const ExemplarCandidate*>> by_key;
    for (const auto& c : candidates) by_key[c.key].push_back(&c);
    std::vector<std::pair<std::string, std::size_t>> confusions;
    for (const auto& [key, list] : by_key)
        if (key.rfind("confusion:", 0) == 0) confusions.emplace_back(key, list.size());
    std::stable_sort(confusions.begin(), confusions.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<ExemplarCandidate> chosen;
    std::set<std::string> classes_shown;
    auto take = [&](const ExemplarCandidate& c) {
        if (chosen.size() >= max_count) return;
        chosen.push_back(c);
        classes_shown.insert(*c.labels.expression);
    };
    for (const auto& [key, count] : confusions) take(*by_key[key].front());
    std::vector<std::string> classes;
    if (knowledge)
        for (const auto& e : knowledge->expressions) classes.push_back(e.name);
    for (const auto& [key, list] : by_key)
        if (key.rfind("class:", 0) == 0 && std::find(classes.begin(), classes.end(), key.substr(6)) == classes.end())
            classes.push_back(key.substr(6));
    for (const auto& name : classes) {
        if (classes_shown.count(name)) continue;
        if (auto it = by_key.find("class:" + name); it != by_key.end()) take(*it->second.front());
    }
    return chosen;
}

json fit_document(const LearnedModel& model, const FitSettings& settings) {
    json exemplars = json::array();
    for (const auto& e : *model.exemplars)
        exemplars.push_back(
            {{"id", e.id},
             {"labels", labels_to_json(e.labels)},
             {"descriptions",
              {{"expression", e.descriptions.expression}, {"va", e.descriptions.va}, {"au", e.descriptions.au}}},
             {"image_hash", e.image_hash}});
    return {{"base_version", model.base_version},
            {"model_version", model.model_version},
            {"calibration", model.calibration.to_json()},
            {"exemplars", exemplars},
            {"reviews", model.reviews},
            {"fitted_at", model.fitted_at},
            {"settings",
             {{"method", calibration_method_name(settings.method)},
              {"min_reviews", settings.min_reviews},
              {"max_exemplars", settings.max_exemplars}}}};
}

}  // namespace

std::shared_ptr<const LearnedModel> LearnedState::current() const {
    std::lock_guard lock(mutex_);
    return model_;
}

void LearnedState::publish(std::shared_ptr<const LearnedModel> model) {
    std::lock_guard lock(mutex_);
    model_ = std::move(model);
}

FitWatcher::FitWatcher(Store& store, LearnedState& learned,
                       std::function<void(const std::shared_ptr<const LearnedModel>&)> changed,
                       std::chrono::milliseconds interval, std::function<void(const std::string&)> log)
    : store_(store), learned_(learned), changed_(std::move(changed)), interval_(interval) {
    if (store_.shared()) listener_ = std::make_unique<sql::Listener>(store_.path(), kFitChannel, std::move(log));
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (listener_) {
                lock.unlock();
                listener_->wait(interval_);  // a notification, the interval, or the end
                lock.lock();
            } else {
                wake_.wait_for(lock, interval_, [this] { return stopping_; });
            }
            if (stopping_) break;
            lock.unlock();
            check();
            lock.lock();
        }
    });
}

FitWatcher::~FitWatcher() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (listener_) listener_->interrupt();
    thread_.join();
}

bool FitWatcher::check() {
    auto current = learned_.current();
    auto pointer = store_.document(kCurrentFitKind, current->base_version);
    if (!pointer || !pointer->has_value()) return false;  // unreadable now: looked at again next time
    json body = json::parse((*pointer)->body, nullptr, false);
    if (!body.is_object() || body.value("model_version", "") == current->model_version) return false;
    auto loaded = LearnedState::load(store_, current->base_version);
    if (!loaded) return false;
    auto model = (*loaded)->current();
    if (model->model_version == current->model_version) return false;
    learned_.publish(model);
    if (changed_) changed_(model);
    return true;
}

Result<std::shared_ptr<LearnedState>> LearnedState::load(Store& store, const std::string& base_version) {
    auto model = std::make_shared<LearnedModel>();
    model->base_version = base_version;
    model->model_version = base_version;
    auto pointer = store.document(kCurrentFitKind, base_version);
    if (!pointer) return pointer.error();
    if (!pointer->has_value()) return std::make_shared<LearnedState>(model);
    json current = json::parse((*pointer)->body, nullptr, false);
    std::string version = current.is_object() ? current.value("model_version", "") : "";
    auto document = store.document(kFitKind, version);
    if (!document) return document.error();
    if (!document->has_value()) return make_error(errc::io_error, "store: fit " + version + " is missing");
    json body = json::parse((*document)->body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return make_error(errc::bad_json, "store: fit " + version + " is not JSON");
    auto calibration = CalibrationSet::from_json(body.value("calibration", json::object()));
    if (!calibration) return calibration.error();
    model->model_version = version;
    model->calibration = *calibration;
    model->reviews = body.value("reviews", std::size_t{0});
    model->fitted_at = body.value("fitted_at", "");
    auto exemplars = std::make_shared<FewShotExamples>();
    for (const auto& e : body.value("exemplars", json::array())) {
        FewShotExample example;
        example.id = e.value("id", "");
        // An exemplar's labels and descriptions are laid out as a record's.
        nlohmann::ordered_json as_record = {{"labels", e.value("labels", json::object())},
                                            {"descriptions", e.value("descriptions", json::object())}};
        auto labels = FeidRecord::from_json(as_record);
        if (!labels)
            return make_error(errc::bad_json,
                              "store: fit " + version + ", exemplar " + example.id + ": " + labels.error().message);
        example.labels = labels->labels;
        example.descriptions = labels->descriptions;
        auto jpeg = store.thumbnail(example.id);
        if (!jpeg || jpeg->empty()) continue;  // a face deleted since: the rest still teach
        example.image_jpeg = std::move(*jpeg);
        example.image_hash = sha256_hex(example.image_jpeg);
        exemplars->push_back(std::move(example));
    }
    model->exemplars = std::move(exemplars);
    return std::make_shared<LearnedState>(model);
}

Result<FitOutcome> fit_from_reviews(Store& store, const LearnedModel& current, const FitSettings& settings,
                                    const Knowledge* knowledge) {
    ReviewExamples examples;
    std::vector<ExemplarCandidate> candidates;
    std::size_t unreadable = 0;
    auto visited = store.for_each_face([&](const FaceRow& row) {
        if (row.status == "auto") return true;
        auto record = row.record();
        if (!record) {
            ++unreadable;
            return true;
        }
        add_review_examples(*record, examples);
        if (auto c = exemplar_candidate(*record)) candidates.push_back(std::move(*c));
        return true;
    });
    if (!visited) return visited.error();

    auto model = std::make_shared<LearnedModel>();
    model->base_version = current.base_version;
    model->calibration = CalibrationSet::fit(examples, settings.method, settings.min_reviews);
    model->reviews = examples.faces;
    model->fitted_at = utc_timestamp();
    auto exemplars = std::make_shared<FewShotExamples>();
    std::vector<ExemplarCandidate> usable;
    for (auto& c : candidates) {
        auto jpeg = store.thumbnail(c.face_id);
        if (jpeg && !jpeg->empty() && jpeg->size() <= settings.max_exemplar_bytes) usable.push_back(std::move(c));
    }
    for (auto& c : choose_exemplars(usable, knowledge, settings.max_exemplars)) {
        auto jpeg = store.thumbnail(c.face_id);
        if (!jpeg) return jpeg.error();
        exemplars->push_back(FewShotExample{c.face_id, c.labels, c.descriptions, *jpeg, sha256_hex(*jpeg)});
    }
    model->exemplars = exemplars;

    // The version names what decides answers and their ranking: calibration and exemplars.
    json identity = fit_document(*model, settings);
    bool learned = model->calibration.any_trusted() || !exemplars->empty();
    std::string fingerprint = sha256_hex(identity["calibration"].dump() + identity["exemplars"].dump()).substr(0, 8);
    model->model_version = learned ? current.base_version + "+fit-" + fingerprint : current.base_version;

    FitOutcome outcome;
    outcome.changed = model->model_version != current.model_version;
    json trusted = json::array();
    for (Level level : kAllLevels)
        if (model->calibration.levels[static_cast<std::size_t>(level)].trusted())
            trusted.push_back(std::string(level_name(level)));
    outcome.summary = {{"changed", outcome.changed},
                       {"previous_version", current.model_version},
                       {"model_version", model->model_version},
                       {"reviews", examples.faces},
                       {"examples",
                        {{"expression", examples.levels[0].size()},
                         {"va", examples.levels[1].size()},
                         {"au", examples.levels[2].size()}}},
                       {"min_reviews", settings.min_reviews},
                       {"calibrated_levels", trusted},
                       {"exemplars", exemplars->size()},
                       {"unreadable_records", unreadable}};
    if (!outcome.changed) {
        outcome.model = std::make_shared<LearnedModel>(current);
        return outcome;
    }
    identity["model_version"] = model->model_version;
    // The fit and the pointer to it in one transaction, which tells every listening replica.
    if (auto saved = store.save_documents(
            {DocumentRow{kFitKind, model->model_version, identity.dump(), {}},
             DocumentRow{
                 kCurrentFitKind, model->base_version, json{{"model_version", model->model_version}}.dump(), {}}},
            kFitChannel, model->base_version);
        !saved)
        return saved.error();
    outcome.model = std::move(model);
    return outcome;
}

Uncertainty calibrated_uncertainty(const CalibrationSet& calibration, const Uncertainty& u,
                                   const LevelProvenance& provenance) {
    if (!calibration.any_trusted()) return u;
    std::array<double, 3> p = calibration.level_error(u, provenance);
    Uncertainty out = u;
    out.expression = p[0];
    out.va = p[1];
    out.au = p[2];
    out.overall = calibration.face_error(u, provenance);
    return out;
}

int phash_distance(const std::string& a, const std::string& b) {
    auto parse = [](const std::string& text) -> std::optional<std::uint64_t> {
        if (text.size() != 16) return std::nullopt;
        try {
            return std::stoull(text, nullptr, 16);
        } catch (...) {
            return std::nullopt;
        }
    };
    auto x = parse(a), y = parse(b);
    if (!x || !y) return 64;
    return static_cast<int>(std::bitset<64>(*x ^ *y).count());
}

Result<QueueOptions> parse_queue_options(const std::function<std::optional<std::string>(const std::string&)>& param) {
    QueueOptions options;
    auto integer = [&](const std::string& name, long long lo, long long hi) -> Result<std::optional<long long>> {
        auto text = param(name);
        if (!text) return std::optional<long long>();
        try {
            std::size_t used = 0;
            long long value = std::stoll(*text, &used);
            if (used == text->size() && value >= lo && value <= hi) return std::optional<long long>(value);
        } catch (...) {
        }
        return make_error(errc::invalid_argument,
                          name + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi));
    };
    auto limit = integer("limit", 1, 10000);
    if (!limit) return limit.error();
    if (*limit) options.limit = static_cast<std::size_t>(**limit);
    auto diversity = integer("diversity", 0, 32);
    if (!diversity) return diversity.error();
    if (*diversity) options.diversity_bits = static_cast<int>(**diversity);
    if (auto level = param("level"); level && !level->empty()) {
        for (Level l : kAllLevels)
            if (*level == level_name(l)) options.level = l;
        if (!options.level) return make_error(errc::invalid_argument, "level must be expression, va or au");
    }
    return options;
}

Result<std::vector<QueueEntry>> review_queue(Store& store, const LearnedModel& model, const QueueOptions& options) {
    auto candidates = store.queue_candidates(options.item_prefix);
    if (!candidates) return candidates.error();
    std::vector<QueueEntry> entries;
    entries.reserve(candidates->size());
    for (const auto& c : *candidates) {
        QueueEntry e{c.id, c.item_id, 0, model.calibration.level_error(c.uncertainty, c.provenance), c.uncertainty};
        e.error_probability = options.level ? e.level_error[static_cast<std::size_t>(*options.level)]
                                            : model.calibration.face_error(c.uncertainty, c.provenance);
        if (options.level && is_fact(c.provenance.of(*options.level))) continue;  // nothing to doubt
        entries.push_back(std::move(e));
    }
    std::stable_sort(entries.begin(), entries.end(), [](const QueueEntry& a, const QueueEntry& b) {
        return a.error_probability > b.error_probability ||
               (a.error_probability == b.error_probability && a.face_id < b.face_id);
    });
    if (options.diversity_bits <= 0) {
        if (entries.size() > options.limit) entries.resize(options.limit);
        return entries;
    }
    std::map<std::string, std::string> hashes;
    for (const auto& c : *candidates) hashes[c.id] = c.phash;
    std::vector<QueueEntry> picked;
    for (auto& e : entries) {
        if (picked.size() >= options.limit) break;
        const std::string& hash = hashes[e.face_id];
        bool near_duplicate = std::any_of(picked.begin(), picked.end(), [&](const QueueEntry& p) {
            return phash_distance(hash, hashes[p.face_id]) <= options.diversity_bits;
        });
        if (!near_duplicate) picked.push_back(std::move(e));
    }
    return picked;
}

}  // namespace seke
