#pragma once
// The picture view of the store: each labeled image drawn with its faces' boxes, expression,
// valence-arousal and AUs (and what the built-in expert could not see), for a person to check.
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "connectors/image.hpp"
#include "plugin/records/feid_record.hpp"
#include "plugin/records/store.hpp"
#include "verify/errors.hpp"

namespace seke {

// The lines drawn beside one face, e.g. "happy 0.93 (expert)", "V +0.45 A +0.20 (derived)",
// "AU12 AU25", "not seen: AU6 AU9 AU14".
std::vector<std::string> picture_lines(const FeidRecord& record);

struct PicturesWritten {
    std::size_t pictures = 0;
    std::vector<std::string> problems;  // "<item>: <reason>" for items whose image could not be drawn
};

// Writes `dir`/<item id>.jpg for each item with labeled faces (only those in `item_ids` when it
// is not empty). Images are read as `seke label` read them (path or URL, within `limits`). An
// image that cannot be read or drawn is a problem, not an error; errors are the store's and the
// folder's.
Result<PicturesWritten> write_pictures(Store& store, const std::string& dir, const ImageLimits& limits,
                                       const std::set<std::string>& item_ids = {});

}  // namespace seke
