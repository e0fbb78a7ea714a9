#include "plugin/records/pictures.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "connectors/face_picture.hpp"
#include "plugin/records/crops.hpp"

namespace seke {
namespace {

std::string signed_two_decimals(double value) {
    char text[16];
    std::snprintf(text, sizeof text, "%+.2f", value);
    return text;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
    return out;
}

std::string source_of(Provenance provenance) {
    return "(" + std::string(provenance_name(provenance)) + ")";
}

}  // namespace

std::vector<std::string> picture_lines(const FeidRecord& record) {
    std::vector<std::string> lines;
    const LabelSet& labels = record.labels;
    if (labels.expression) {
        std::string line = *labels.expression;
        if (record.expert && record.provenance.expression == Provenance::expert)
            for (const auto& [name, p] : record.expert->probabilities)
                if (name == *labels.expression) {
                    char share[8];
                    std::snprintf(share, sizeof share, " %.2f", p);
                    line += share;
                }
        lines.push_back(line + " " + source_of(record.provenance.expression));
    }
    if (labels.valence && labels.arousal) {
        const bool derived = record.provenance.va == Provenance::expert;
        lines.push_back("V " + signed_two_decimals(*labels.valence) + " A " + signed_two_decimals(*labels.arousal) +
                        " " + (derived ? "(expert, derived)" : source_of(record.provenance.va)));
    }
    if (labels.action_units) {
        lines.push_back((labels.action_units->empty() ? "no AU" : joined(*labels.action_units)) + " " +
                        source_of(record.provenance.au));
        if (record.expert && record.provenance.au == Provenance::expert && !record.expert->au_unknown.empty())
            lines.push_back("not seen: " + joined(record.expert->au_unknown));
    }
    if (std::isfinite(record.uncertainty.overall.value_or(NAN))) {
        char line[32];
        std::snprintf(line, sizeof line, "uncertainty %.2f", *record.uncertainty.overall);
        lines.emplace_back(line);
    }
    return lines;
}

Result<PicturesWritten> write_pictures(Store& store, const std::string& dir, const ImageLimits& limits,
                                       const std::set<std::string>& item_ids) {
    std::map<std::string, std::vector<LabeledBox>> boxes_by_item;
    PicturesWritten out;
    auto visited = store.for_each_face([&](const FaceRow& row) {
        if (!item_ids.empty() && item_ids.count(row.item_id) == 0) return true;
        auto record = row.record();
        if (!record) {
            out.problems.push_back(row.item_id + ": " + record.error().message);
            return true;
        }
        boxes_by_item[row.item_id].push_back({record->face, picture_lines(*record)});
        return true;
    });
    if (!visited) return visited.error();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error(errc::io_error, "cannot create " + dir + ": " + ec.message());
    for (const auto& [item_id, boxes] : boxes_by_item) {
        auto item = store.item(item_id);
        if (!item) return item.error();
        if (!*item) continue;  // a face whose item is gone: nothing to draw on
        auto bytes = fetch_image_bytes((*item)->image, limits);
        auto picture = bytes ? draw_labeled_boxes(*bytes, boxes, limits) : Result<std::string>(bytes.error());
        if (!picture) {
            out.problems.push_back(item_id + ": " + picture.error().message);
            continue;
        }
        const auto path = std::filesystem::path(dir) / (safe_file_stem(item_id) + ".jpg");
        std::ofstream file(path, std::ios::binary | std::ios::trunc);
        file.write(picture->data(), static_cast<std::streamsize>(picture->size()));
        if (!file) return make_error(errc::io_error, "cannot write " + path.string());
        ++out.pictures;
    }
    return out;
}

}  // namespace seke
