// libFuzzer target: the .xlsx reader (lib/web) on arbitrary bytes, as an upload would bring them.
//
// Each input is read twice:
//   * as it is: the ZIP layer (end record, central directory, local headers, inflate, CRCs);
//   * with the sizes and CRC of every stored entry made to agree with its bytes, so that a
//     mutation of the XML inside a stored entry of the seed corpus (tests/fuzz/corpus/xlsx)
//     reaches the XML scanner and the sheet reader instead of stopping at the CRC check.
// Limits are smaller than the defaults (1 MiB per entry, 1000 rows) to keep runs fast.
// Checks (abort on failure), besides AddressSanitizer's and UBSan's:
//   * a refusal has a message, in UTF-8 (it is shown to the person who uploaded the file);
//   * rows read: at most max_rows, numbered from 1, each with 1..max_columns cells, the last
//     one not empty, each cell at most max_cell bytes of valid UTF-8.
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "web/xlsx.hpp"

using namespace m2m;
using namespace m2m::web;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "xlsx_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

bool utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    const unsigned c = p[i];
    std::size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || s.size() - i < len) return false;
    if (len >= 2) {
      const unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
      const unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
      if (p[i + 1] < lo || p[i + 1] > hi) return false;
      for (std::size_t k = 2; k < len; ++k)
        if ((p[i + k] & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

std::uint32_t le32(const Bytes& b, std::size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (std::uint32_t{b[at + 3]} << 24);
}
std::uint16_t le16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8)); }
void set32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int s = 0; s < 4; ++s) b[at + s] = static_cast<std::uint8_t>(v >> (8 * s));
}

// Sizes and CRCs of the stored entries recomputed from their bytes, in the central directory
// and the local headers. Whatever does not hold together is left as it is.
Bytes fix_stored_entries(Bytes b) {
  if (b.size() < 22) return b;
  std::size_t eocd = b.size() - 22;
  while (le32(b, eocd) != 0x06054b50) {
    if (eocd == 0) return b;
    --eocd;
  }
  std::size_t at = le32(b, eocd + 16);
  const std::size_t count = le16(b, eocd + 10);
  for (std::size_t i = 0; i < count; ++i) {
    if (at > b.size() || b.size() - at < 46 || le32(b, at) != 0x02014b50) break;
    const std::size_t next = at + 46 + le16(b, at + 28) + le16(b, at + 30) + le16(b, at + 32);
    const std::size_t local = le32(b, at + 42);
    const std::uint32_t packed = le32(b, at + 20);
    if (le16(b, at + 10) == 0 && local < b.size() && b.size() - local >= 30 && le32(b, local) == 0x04034b50) {
      const std::size_t data = local + 30 + le16(b, local + 26) + le16(b, local + 28);
      if (data <= b.size() && b.size() - data >= packed) {
        const auto crc = static_cast<std::uint32_t>(crc32(0, b.data() + data, packed));
        set32(b, at + 16, crc);
        set32(b, at + 24, packed);
        set32(b, local + 14, crc);
        set32(b, local + 22, packed);
      }
    }
    at = next;
  }
  return b;
}

void read(ByteView file) {
  XlsxLimits lim;
  lim.max_entry = 1u << 20;
  lim.max_rows = 1000;
  auto r = read_xlsx(file, lim);
  if (!r) {
    check(!r.error().message.empty(), "a refusal has a message");
    check(utf8(r.error().message), "the message is UTF-8");
    return;
  }
  check(r->size() <= lim.max_rows, "at most max_rows rows");
  for (const XlsxRow& row : *r) {
    check(row.number >= 1, "rows are numbered from 1");
    check(!row.cells.empty() && row.cells.size() <= lim.max_columns, "1..max_columns cells in a row");
    check(!row.cells.back().empty(), "trailing empty cells trimmed");
    for (const std::string& c : row.cells) {
      check(c.size() <= lim.max_cell, "a cell holds at most max_cell bytes");
      check(utf8(c), "cells are UTF-8");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  read(input);
  const Bytes fixed = fix_stored_entries(Bytes(input.begin(), input.end()));
  if (!std::equal(fixed.begin(), fixed.end(), input.begin(), input.end())) read(fixed);
  return 0;
}
