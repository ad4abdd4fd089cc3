// The console's page, script and style, compiled into the program (lib/web/console/; CMake
// embeds them: no CDN, nothing fetched, so it works on a closed network).
#pragma once

#include <string_view>

namespace m2m::web {

struct Asset {
  std::string_view path;  // "/", "/app.js", …
  std::string_view type;  // Content-Type
  std::string_view body;
};

const Asset* find_asset(std::string_view path);
std::size_t assets_bytes();  // all of them together

}  // namespace m2m::web
