#include "platform/csv.hpp"

#include <sstream>

namespace m2m::platform {

Result<bool> CsvReader::next(std::vector<std::string>& fields) {
  fields.clear();
  std::streambuf* sb = in_.rdbuf();
  constexpr int eof = std::char_traits<char>::eof();
  if (!sb || sb->sgetc() == eof) return false;
  record_line_ = line_;
  std::string cur;
  for (;;) {  // at the start of a field
    cur.clear();
    int c = sb->sbumpc();
    if (c == '"') {
      const std::uint64_t opened = line_;
      for (;;) {
        c = sb->sbumpc();
        if (c == eof)
          return fail(ErrorKind::bad_value,
                      "unterminated quoted field (opened on line " + std::to_string(opened) + ")", opened);
        if (c == '"') {
          if (sb->sgetc() != '"') break;
          sb->sbumpc();
        } else if (c == '\n') {
          ++line_;
        }
        cur += static_cast<char>(c);
      }
      c = sb->sbumpc();
      if (c == '\r' && (sb->sgetc() == '\n' || sb->sgetc() == eof)) c = sb->sbumpc();
      if (c != ',' && c != '\n' && c != eof)
        return fail(ErrorKind::bad_value, "unexpected character after a quoted field", line_);
    } else {
      while (c != ',' && c != '\n' && c != eof) {
        if (c == '"') return fail(ErrorKind::bad_value, "quote inside an unquoted field", line_);
        cur += static_cast<char>(c);
        c = sb->sbumpc();
      }
      if (c != ',' && !cur.empty() && cur.back() == '\r') cur.pop_back();  // CRLF
    }
    fields.push_back(cur);
    if (c == ',') continue;
    if (c == '\n') ++line_;
    return true;
  }
}

Result<std::vector<std::string>> parse_csv_line(std::string_view line) {
  std::istringstream in{std::string(line)};
  CsvReader reader(in);
  std::vector<std::string> fields;
  auto r = reader.next(fields);
  if (!r) return unexpected(std::move(r).error());
  if (!*r) fields.assign(1, std::string());
  if (in.rdbuf()->sgetc() != std::char_traits<char>::eof())
    return fail(ErrorKind::bad_value, "more than one record in a line");
  return fields;
}

void append_csv_field(std::string& out, std::string_view field) {
  bool quote = field.find_first_of(",\"\r\n") != std::string_view::npos ||
               (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!quote) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::string join_csv(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    append_csv_field(out, fields[i]);
  }
  return out;
}

}  // namespace m2m::platform
