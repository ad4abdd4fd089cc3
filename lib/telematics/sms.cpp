#include "telematics/sms.hpp"

namespace m2m::telematics {

bool sms_allowed(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '=' || c == ':' || c == ',' ||
         c == '.' || c == '#';
}

std::string sms_clean(std::string_view text) {
  std::string s;
  for (char c : text)
    if (sms_allowed(c)) s += c;
  return s;
}

Result<SmsCommand> parse_sms(std::string_view text) {
  // Offsets of kept characters in `text`, so errors point into what the user wrote.
  std::string s;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (sms_allowed(text[i])) {
      s += text[i];
      at.push_back(i);
    }
  if (!s.starts_with("#="))
    return fail(ErrorKind::bad_value, "an SMS command starts with #=", s.empty() ? 0 : at[0]);
  if (s.size() < 4 || !s.ends_with(":#"))
    return fail(ErrorKind::bad_value, "an SMS command ends with :#", at.back());
  SmsCommand c;
  const std::string_view inner = std::string_view(s).substr(2, s.size() - 4);
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = inner.find(',', start);
    std::string field(inner.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (start == 0) c.command = std::move(field);
    else c.args.push_back(std::move(field));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (c.command.empty()) return fail(ErrorKind::bad_value, "an SMS command has an empty command field", at[2 < at.size() ? 2 : 0]);
  return c;
}

Result<std::string> format_sms(const SmsCommand& c) {
  if (c.command.empty()) return fail(ErrorKind::bad_value, "an SMS command needs a command field");
  std::string s = "#=";
  for (std::size_t i = 0; i <= c.args.size(); ++i) {
    const std::string& f = i == 0 ? c.command : c.args[i - 1];
    for (char ch : f)
      if (!sms_allowed(ch) || ch == ',')
        return fail(ErrorKind::bad_value, std::string(i == 0 ? "command" : "argument " + std::to_string(i)) + " '" + f +
                                              "' has a character outside letters, digits and = : . #");
    if (i) s += ',';
    s += f;
  }
  s += ":#";
  return s;
}

}  // namespace m2m::telematics
