#include "cli/json_pretty.hpp"

namespace m2m::cli {

void append_pretty_json(std::string& out, std::string_view s, int indent) {
  int depth = 0;
  bool in_string = false;
  auto newline = [&](int d) {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(d * indent), ' ');
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < s.size()) out.push_back(s[++i]);
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[':
        out.push_back(c);
        if (i + 1 < s.size() && (s[i + 1] == '}' || s[i + 1] == ']')) {
          out.push_back(s[++i]);
        } else {
          newline(++depth);
        }
        break;
      case '}':
      case ']':
        newline(--depth);
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        newline(depth);
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\n':
      case '\t':
      case '\r':
        break;  // already compact; drop stray whitespace between tokens
      default:
        out.push_back(c);
    }
  }
}

}  // namespace m2m::cli
