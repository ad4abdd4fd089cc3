// Indents compact JSON text without re-parsing it, so members keep the order the writer chose
// (nlohmann::json objects would come back sorted by key).
#pragma once

#include <string>
#include <string_view>

namespace m2m::cli {

// Appends `compact` (valid JSON, as produced by a JSON writer) to `out`, indented by `indent`
// spaces per level; empty objects and arrays stay "{}" / "[]". No trailing newline.
void append_pretty_json(std::string& out, std::string_view compact, int indent = 2);

}  // namespace m2m::cli
