// The first worksheet of an Excel .xlsx upload (the web console's device import), as rows of
// strings. The file is untrusted bytes from the network: every ZIP offset and length is checked
// against the buffer, every inflated entry is capped at max_entry whatever its header declares,
// and what the rows take in memory is capped too, so no input crashes the reader, makes it read
// outside the buffer or allocate without bound. Errors say what is wrong and what to do, for the
// person who uploaded the file.
//
// Read: the ZIP's central directory (entries "stored" or "deflate"), xl/workbook.xml's first
// <sheet> resolved through xl/_rels/workbook.xml.rels (falling back to xl/worksheets/sheet1.xml),
// xl/sharedStrings.xml, and that sheet's <sheetData>. Namespace prefixes (<x:row>) are ignored.
// Refused: anything else than a ZIP (old .xls, password-protected workbooks, .ods), ZIP64,
// multi-disk archives, encrypted entries, other compression methods, entries whose size or CRC
// does not match the central directory, XML that is not UTF-8, DOCTYPEs, and whatever exceeds
// the limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace m2m::web {

struct XlsxLimits {
  std::size_t max_file = 8u << 20;   // the upload itself
  std::size_t max_entry = 32u << 20; // one inflated ZIP entry (workbook, shared strings, sheet);
                                     // the rows returned take at most 4 x this in memory
  std::size_t max_rows = 100000;     // rows holding at least one value
  std::size_t max_columns = 64;      // a value in a column beyond this is an error
  std::size_t max_cell = 4096;       // bytes of UTF-8 in one cell
};

struct XlsxRow {
  std::uint32_t number;            // 1-based, as in the sheet (rows without values are skipped)
  std::vector<std::string> cells;  // column A first; never ends with an empty string
};

// Rows of the first worksheet that hold at least one value, as strings:
//   shared strings (t="s", rich text runs joined, phonetic runs left out) and inline strings
//   (t="inlineStr") as written, Excel's _xHHHH_ escapes and XML entities decoded to UTF-8;
//   booleans "1"/"0"; numbers as written in <v>, except that an integer-valued one is written
//   out as an integer ("1.0" -> "1", "1E+3" -> "1000"; up to 20 digits); formulas their cached
//   value; dates as Excel writes them, serial day numbers; errors ("#N/A") as written.
// A cell missing inside a row is an empty string, so column positions hold.
Result<std::vector<XlsxRow>> read_xlsx(ByteView file, const XlsxLimits& limits = {});

}  // namespace m2m::web
