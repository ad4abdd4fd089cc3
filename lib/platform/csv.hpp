// CSV as the registry's import/export format, RFC 4180: fields separated by commas, records
// by LF or CRLF; a quoted field may hold commas, doubled quotes and line breaks, so any
// description survives an export and an import unchanged.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace m2m::platform {

// Reads records from a stream. Error offsets are line numbers (1-based).
class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}
  // The next record into `fields`: true when one was read, false at the end of the input.
  Result<bool> next(std::vector<std::string>& fields);
  // The line the last record started on (a record with a quoted line break spans several).
  std::uint64_t record_line() const { return record_line_; }

 private:
  std::istream& in_;
  std::uint64_t line_ = 1;
  std::uint64_t record_line_ = 0;
};

// Splits one record held in `line` (a trailing '\r' is ignored) into fields.
Result<std::vector<std::string>> parse_csv_line(std::string_view line);
// Appends `field`, quoted when it contains a comma, quote, CR/LF or leading/trailing space.
void append_csv_field(std::string& out, std::string_view field);
std::string join_csv(const std::vector<std::string>& fields);

}  // namespace m2m::platform
