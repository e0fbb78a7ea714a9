#pragma once
// config/knowledge.json → seke::Knowledge (JSON stays at this edge; the engine sees structs).
#include <string>

#include "verify/errors.hpp"
#include "verify/knowledge.hpp"

namespace seke {

Result<Knowledge> parse_knowledge(const std::string& json_text);
Result<Knowledge> load_knowledge_file(const std::string& path);

}  // namespace seke
