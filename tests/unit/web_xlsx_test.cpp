// The .xlsx reader of the web console's device import: workbooks built here byte by byte (a
// small ZIP writer, stored and raw-deflate entries), what it reads from them and what it refuses.
#include <doctest/doctest.h>

#include <zlib.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "web/xlsx.hpp"

using namespace m2m;
using namespace m2m::web;

namespace {

// ---- a ZIP writer -----------------------------------------------------------------------------

struct Part {
  std::string name;
  Bytes packed;            // the bytes as stored in the ZIP
  std::uint16_t method;    // 0 stored, 8 deflate
  std::uint32_t crc;
  std::uint32_t size;      // declared uncompressed size
};

void put32(Bytes& b, std::uint32_t v) {
  for (int s = 0; s < 32; s += 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
void set32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int s = 0; s < 4; ++s) b[at + s] = static_cast<std::uint8_t>(v >> (8 * s));
}
void set16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v);
  b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
std::uint32_t get32(const Bytes& b, std::size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (std::uint32_t{b[at + 3]} << 24);
}

std::uint32_t crc_of(std::string_view s) {
  return static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

Part stored(std::string name, std::string_view data) {
  return Part{std::move(name), Bytes(data.begin(), data.end()), 0, crc_of(data), static_cast<std::uint32_t>(data.size())};
}

// Raw deflate (windowBits -15), as ZIP's method 8 holds it. `feed` is called until it returns
// false; each call appends the next piece of input to its argument.
template <class Feed>
Bytes deflate_raw(Feed feed) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out;
  std::string piece;
  bool more = true;
  std::vector<Bytef> buf(1 << 16);
  while (more) {
    piece.clear();
    more = feed(piece);
    zs.next_in = reinterpret_cast<Bytef*>(piece.data());
    zs.avail_in = static_cast<uInt>(piece.size());
    int rc;
    do {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&zs, more ? Z_NO_FLUSH : Z_FINISH);
      out.insert(out.end(), buf.data(), buf.data() + (buf.size() - zs.avail_out));
    } while (zs.avail_out == 0 || (!more && rc != Z_STREAM_END));
  }
  deflateEnd(&zs);
  return out;
}

Part deflated(std::string name, std::string_view data) {
  bool done = false;
  Bytes packed = deflate_raw([&](std::string& piece) {
    if (!done) piece.assign(data);
    done = true;
    return false;
  });
  return Part{std::move(name), std::move(packed), 8, crc_of(data), static_cast<std::uint32_t>(data.size())};
}

Bytes zip(const std::vector<Part>& parts) {
  Bytes out, dir;
  for (const Part& p : parts) {
    const auto offset = static_cast<std::uint32_t>(out.size());
    put32(out, 0x04034b50);
    put_le16(out, 20);  // version needed
    put_le16(out, 0);   // flags
    put_le16(out, p.method);
    put_le16(out, 0);       // time
    put_le16(out, 0x21);    // date: 1980-01-01
    put32(out, p.crc);
    put32(out, static_cast<std::uint32_t>(p.packed.size()));
    put32(out, p.size);
    put_le16(out, static_cast<std::uint16_t>(p.name.size()));
    put_le16(out, 0);  // extra
    out.insert(out.end(), p.name.begin(), p.name.end());
    out.insert(out.end(), p.packed.begin(), p.packed.end());

    put32(dir, 0x02014b50);
    put_le16(dir, 20);  // made by
    put_le16(dir, 20);  // needed
    put_le16(dir, 0);
    put_le16(dir, p.method);
    put_le16(dir, 0);
    put_le16(dir, 0x21);
    put32(dir, p.crc);
    put32(dir, static_cast<std::uint32_t>(p.packed.size()));
    put32(dir, p.size);
    put_le16(dir, static_cast<std::uint16_t>(p.name.size()));
    put_le16(dir, 0);  // extra
    put_le16(dir, 0);  // comment
    put_le16(dir, 0);  // disk
    put_le16(dir, 0);  // internal attributes
    put32(dir, 0);     // external attributes
    put32(dir, offset);
    dir.insert(dir.end(), p.name.begin(), p.name.end());
  }
  const auto dir_offset = static_cast<std::uint32_t>(out.size());
  out.insert(out.end(), dir.begin(), dir.end());
  put32(out, 0x06054b50);
  put_le16(out, 0);
  put_le16(out, 0);
  put_le16(out, static_cast<std::uint16_t>(parts.size()));
  put_le16(out, static_cast<std::uint16_t>(parts.size()));
  put32(out, static_cast<std::uint32_t>(dir.size()));
  put32(out, dir_offset);
  put_le16(out, 0);  // comment
  return out;
}

// Where the central directory entry of `name` starts (the file has no ZIP comment).
std::size_t central_entry(const Bytes& z, std::string_view name) {
  std::size_t at = get32(z, z.size() - 22 + 16);
  while (at + 46 <= z.size() && get32(z, at) == 0x02014b50) {
    const std::size_t n = z[at + 28] | (z[at + 29] << 8);
    if (std::string_view(reinterpret_cast<const char*>(&z[at + 46]), n) == name) return at;
    at += 46 + n + (z[at + 30] | (z[at + 31] << 8)) + (z[at + 32] | (z[at + 33] << 8));
  }
  FAIL("no central directory entry ", name);
  return 0;
}

// ---- a workbook -------------------------------------------------------------------------------

const std::string kXmlHead = R"(<?xml version="1.0" encoding="UTF-8" standalone="yes"?>)"
                             "\n";
const std::string kMain = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const std::string kRel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

std::string sheet_xml(const std::string& rows) {
  return kXmlHead + R"(<worksheet xmlns=")" + kMain + R"(" xmlns:r=")" + kRel +
         R"("><dimension ref="A1:C3"/><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetData>)" + rows +
         "</sheetData><pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" header=\"0.3\" footer=\"0.3\"/></worksheet>";
}

std::string sst_xml(const std::vector<std::string>& items) {
  std::string s = kXmlHead + R"(<sst xmlns=")" + kMain + R"(" count=")" + std::to_string(items.size()) + R"(" uniqueCount=")" +
                  std::to_string(items.size()) + R"(">)";
  for (const auto& i : items) s += "<si>" + i + "</si>";
  return s + "</sst>";
}

struct Book {
  std::string sheet;                                 // xl/worksheets/sheet1.xml
  std::optional<std::string> strings = std::nullopt;  // xl/sharedStrings.xml
  bool deflate = true;
};

std::vector<Part> parts_of(const Book& b) {
  auto part = [&](std::string name, const std::string& data) {
    return b.deflate ? deflated(std::move(name), data) : stored(std::move(name), data);
  };
  std::vector<Part> p;
  p.push_back(part("[Content_Types].xml",
                   kXmlHead + R"(<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">)"
                              R"(<Default Extension="xml" ContentType="application/xml"/></Types>)"));
  p.push_back(part("_rels/.rels", kXmlHead + R"(<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">)"
                                             R"(<Relationship Id="rId1" Type=")" + kRel +
                                      R"(/officeDocument" Target="xl/workbook.xml"/></Relationships>)"));
  p.push_back(part("xl/workbook.xml", kXmlHead + R"(<workbook xmlns=")" + kMain + R"(" xmlns:r=")" + kRel +
                                          R"("><sheets><sheet name="Devices" sheetId="1" r:id="rId1"/></sheets></workbook>)"));
  p.push_back(part("xl/_rels/workbook.xml.rels",
                   kXmlHead + R"(<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">)"
                              R"(<Relationship Id="rId1" Type=")" + kRel + R"(/worksheet" Target="worksheets/sheet1.xml"/>)"
                              R"(<Relationship Id="rId2" Type=")" + kRel + R"(/sharedStrings" Target="sharedStrings.xml"/>)"
                              "</Relationships>"));
  if (b.strings) p.push_back(part("xl/sharedStrings.xml", *b.strings));
  p.push_back(part("xl/worksheets/sheet1.xml", b.sheet));
  return p;
}

Bytes xlsx(const Book& b) { return zip(parts_of(b)); }

std::vector<XlsxRow> read_ok(const Bytes& file, const XlsxLimits& lim = {}) {
  auto r = read_xlsx(file, lim);
  if (!r) FAIL("read_xlsx refused: ", r.error().message);
  return *r;
}

Error read_err(const Bytes& file, const XlsxLimits& lim = {}) {
  auto r = read_xlsx(file, lim);
  if (r) FAIL("read_xlsx accepted a file it should refuse");
  return r.error();
}

using Cells = std::vector<std::string>;

}  // namespace

TEST_CASE("xlsx: shared strings, rich text runs and entities, phonetic guides left out") {
  const Book b{sheet_xml(R"(<row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>)"
                         R"(<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" t="s"><v>4</v></c><c r="C2" t="s"><v>5</v></c></row>)"),
               sst_xml({"<t>device_id</t>",
                        "<r><rPr><b/><sz val=\"11\"/></rPr><t>bold</t></r><r><t xml:space=\"preserve\"> and plain</t></r>",
                        "<t>空调 &amp; &lt;客厅&gt; &quot;x&quot; &apos;y&apos;</t>",
                        "<t>1311768467463790320</t>",
                        "<t>&#31354;&#x8C03;&#x1F600;</t><rPh sb=\"0\" eb=\"2\"><t>くうちょう</t></rPh><phoneticPr fontId=\"1\"/>",
                        "<t>line_x000D_\r\nbreak _x005F_x0041_</t>"})};
  const auto rows = read_ok(xlsx(b));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].number == 1);
  CHECK(rows[0].cells == Cells{"device_id", "bold and plain", "空调 & <客厅> \"x\" 'y'"});
  CHECK(rows[1].number == 2);
  CHECK(rows[1].cells == Cells{"1311768467463790320", "空调\xF0\x9F\x98\x80", "line\r\nbreak _x0041_"});
}

TEST_CASE("xlsx: inline strings, namespace prefixes and self-closing cells") {
  const std::string sheet =
      kXmlHead + R"(<x:worksheet xmlns:x=")" + kMain + R"("><x:sheetData>)"
                 R"(<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>空调</x:t></x:is></x:c><x:c r="B1"/>)"
                 R"(<x:c r="C1" t="inlineStr"><x:is><x:r><x:t>a&amp;</x:t></x:r><x:r><x:t>b</x:t></x:r></x:is></x:c></x:row>)"
                 R"(<x:row r="2"><x:c r="B2"/><x:c r="C2" t="inlineStr"><x:is><x:t><![CDATA[<raw> & more]]></x:t></x:is></x:c>)"
                 R"(<x:c r="D2" s="3"/></x:row>)"
                 "</x:sheetData></x:worksheet>";
  const auto rows = read_ok(xlsx({sheet, std::nullopt}));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].number == 1);
  CHECK(rows[0].cells == Cells{"空调", "", "a&b"});
  CHECK(rows[1].number == 2);
  CHECK(rows[1].cells == Cells{"", "", "<raw> & more"});
}

TEST_CASE("xlsx: numbers, integer-valued ones as integers; booleans; formulas' cached values") {
  const Book b{sheet_xml(R"(<row r="1"><c r="A1"><v>1.0</v></c><c r="B1" t="n"><v>1E+3</v></c><c r="C1"><v>0.5</v></c>)"
                         R"(<c r="D1"><v>-2.50</v></c><c r="E1"><v>1.5E+3</v></c><c r="F1"><v>1.25E-2</v></c><c r="G1"><v>-0</v></c>)"
                         R"(<c r="H1"><v>42</v></c><c r="I1"><v>1311768467463790320</v></c><c r="J1"><v>1E+21</v></c>)"
                         R"(<c r="K1"><v>1.2E+1</v></c><c r="L1"><v>45293</v></c></row>)"
                         R"(<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="inlineStr"><is><t>1311768467463790320</t></is></c>)"
                         R"(<c r="C2" t="b"><v>1</v></c><c r="D2" t="b"><v>0</v></c></row>)"
                         R"(<row r="3"><c r="A3"><f>SUM(H1,H1)</f><v>84</v></c><c r="B3" t="str"><f>"id-"&amp;H1</f><v>id-42</v></c>)"
                         R"(<c r="C3" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="D3"><f>A1*2</f><v>2.0</v></c><c r="E3"><f>NOW()</f></c></row>)"),
               sst_xml({"<t>1311768467463790320</t>"})};
  const auto rows = read_ok(xlsx(b));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].cells == Cells{"1", "1000", "0.5", "-2.50", "1500", "1.25E-2", "0", "42", "1311768467463790320", "1E+21", "12", "45293"});
  CHECK(rows[1].cells == Cells{"1311768467463790320", "1311768467463790320", "1", "0"});
  CHECK(rows[2].cells == Cells{"84", "id-42", "#DIV/0!", "2"});
}

TEST_CASE("xlsx: missing cells keep column positions, missing and empty rows are skipped") {
  const Book b{sheet_xml(R"(<row r="2"><c r="A2" t="inlineStr"><is><t>a</t></is></c><c r="C2"><v>3</v></c></row>)"
                         R"(<row r="5"><c r="D5"><v>4</v></c><c r="Z5" s="2"/></row>)"
                         R"(<row r="7" s="1" customFormat="1"><c r="A7" s="1"/><c r="B7" t="inlineStr"><is><t></t></is></c></row>)"
                         R"(<row r="8"/>)"
                         R"(<row><c><v>1</v></c><c><v>2</v></c><c r="E9"><v>5</v></c><c><v>6</v></c></row>)")};
  const auto rows = read_ok(xlsx(b));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].number == 2);
  CHECK(rows[0].cells == Cells{"a", "", "3"});
  CHECK(rows[1].number == 5);
  CHECK(rows[1].cells == Cells{"", "", "", "4"});
  CHECK(rows[2].number == 9);  // a row without r follows the one before it (row 8)
  CHECK(rows[2].cells == Cells{"1", "2", "", "", "5", "6"});
}

TEST_CASE("xlsx: stored and deflated entries read the same") {
  Book b{sheet_xml(R"(<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>7</v></c></row>)"), sst_xml({"<t>x</t>"})};
  const auto deflated_rows = read_ok(xlsx(b));
  b.deflate = false;
  const auto stored_rows = read_ok(xlsx(b));
  REQUIRE(deflated_rows.size() == 1);
  REQUIRE(stored_rows.size() == 1);
  CHECK(deflated_rows[0].cells == Cells{"x", "7"});
  CHECK(stored_rows[0].cells == Cells{"x", "7"});
}

TEST_CASE("xlsx: the first sheet is the workbook's first <sheet>, found through its relationships") {
  const std::string rels_head =
      kXmlHead + R"(<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">)";
  const std::string workbook =
      kXmlHead + R"(<workbook xmlns=")" + kMain + R"(" xmlns:r=")" + kRel +
      R"("><sheets><sheet name="Import" sheetId="3" r:id="rId3"/><sheet name="Old" sheetId="1" r:id="rId1"/></sheets></workbook>)";
  for (const std::string target : {"worksheets/devices.xml", "/xl/worksheets/devices.xml", "./worksheets/../worksheets/devices.xml"}) {
    CAPTURE(target);
    const std::string rels = rels_head + R"(<Relationship Id="rId1" Type=")" + kRel + R"(/worksheet" Target="worksheets/sheet1.xml"/>)" +
                             R"(<Relationship Id="rId9" Type=")" + kRel + R"(/sharedStrings" Target="strings/shared.xml"/>)" +
                             R"(<Relationship Id="rId3" Type=")" + kRel + R"(/worksheet" Target=")" + target + R"("/></Relationships>)";
    const Bytes file = zip({deflated("xl/workbook.xml", workbook), deflated("xl/_rels/workbook.xml.rels", rels),
                            deflated("xl/strings/shared.xml", sst_xml({"<t>from devices.xml</t>"})),
                            deflated("xl/worksheets/sheet1.xml", sheet_xml(R"(<row r="1"><c r="A1"><v>1</v></c></row>)")),
                            deflated("xl/worksheets/devices.xml", sheet_xml(R"(<row r="3"><c r="B3" t="s"><v>0</v></c></row>)"))});
    const auto rows = read_ok(file);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].number == 3);
    CHECK(rows[0].cells == Cells{"", "from devices.xml"});
  }

  // Without the workbook's relationships: xl/worksheets/sheet1.xml.
  const Bytes plain = zip({stored("xl/workbook.xml", workbook),
                           stored("xl/worksheets/sheet1.xml", sheet_xml(R"(<row r="1"><c r="A1"><v>1</v></c></row>)"))});
  const auto rows = read_ok(plain);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].cells == Cells{"1"});
}

TEST_CASE("xlsx: refuses what is not an .xlsx file, with what to do") {
  const std::string not_zip = "device_id,name\n01,lobby\n";
  auto e = read_err(Bytes(not_zip.begin(), not_zip.end()));
  CHECK(e.kind == ErrorKind::bad_value);
  CHECK(e.message == "not an .xlsx file (no ZIP end of central directory): save the sheet as Excel Workbook (.xlsx) or CSV");
  CHECK(read_err(Bytes{}).message == e.message);

  const Bytes xls = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0};
  CHECK(read_err(xls).message ==
        "not an .xlsx file: this is an Excel 97-2003 .xls workbook or a password-protected one: remove the password and "
        "save the sheet as Excel Workbook (.xlsx) or CSV");

  const Bytes other_zip = zip({deflated("content.xml", "<office:document-content/>"), stored("mimetype", "application/zip")});
  CHECK(read_err(other_zip).message ==
        "not an .xlsx file (no xl/workbook.xml in the ZIP): save the sheet as Excel Workbook (.xlsx) or CSV");
}

TEST_CASE("xlsx: a truncated upload is refused as cut short") {
  const Bytes full = xlsx({sheet_xml(R"(<row r="1"><c r="A1"><v>1</v></c></row>)"), std::nullopt});
  for (std::size_t keep : {full.size() / 2, full.size() - 1, std::size_t{4}}) {
    CAPTURE(keep);
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(keep));
    auto e = read_err(cut);
    CHECK(e.kind == ErrorKind::truncated);
    CHECK(e.message ==
          "xlsx: the file is cut short (it starts as a ZIP but its end of central directory is missing): upload it again");
  }
}

TEST_CASE("xlsx: a zip bomb is refused at max_entry, whatever size its header declares") {
  // 64 MiB of zeros deflate to about 64 KiB.
  constexpr std::size_t kBomb = 64u << 20;
  std::size_t fed = 0;
  std::uint32_t crc = 0;
  const std::string zeros(1u << 20, '\0');
  Bytes packed = deflate_raw([&](std::string& piece) {
    piece = zeros;
    crc = static_cast<std::uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(zeros.size())));
    fed += zeros.size();
    return fed < kBomb;
  });
  CHECK(packed.size() < 128 * 1024);
  std::vector<Part> parts = parts_of({sheet_xml(""), std::nullopt});
  parts.back() = Part{"xl/worksheets/sheet1.xml", packed, 8, crc, static_cast<std::uint32_t>(kBomb)};
  const std::string expected =
      "xlsx: entry xl/worksheets/sheet1.xml would inflate past 32 MiB: split the sheet into smaller files";

  // Declared honestly: refused before inflating anything.
  auto e = read_err(zip(parts));
  CHECK(e.kind == ErrorKind::too_long);
  CHECK(e.message == expected);

  // Declared as 1000 bytes: inflating stops at 32 MiB.
  parts.back().size = 1000;
  e = read_err(zip(parts));
  CHECK(e.kind == ErrorKind::too_long);
  CHECK(e.message == expected);

  // And at a smaller limit, the limit named.
  XlsxLimits small;
  small.max_entry = 1u << 20;
  CHECK(read_err(zip(parts), small).message ==
        "xlsx: entry xl/worksheets/sheet1.xml would inflate past 1 MiB: split the sheet into smaller files");
}

TEST_CASE("xlsx: more rows than max_rows are refused; exactly max_rows are read") {
  std::string rows_xml;
  for (int r = 1; r <= 4; ++r) rows_xml += "<row r=\"" + std::to_string(r) + "\"><c><v>" + std::to_string(r) + "</v></c></row>";
  XlsxLimits lim;
  lim.max_rows = 4;
  const auto rows = read_ok(xlsx({sheet_xml(rows_xml), std::nullopt}), lim);
  REQUIRE(rows.size() == 4);
  CHECK(rows[3].number == 4);
  CHECK(rows[3].cells == Cells{"4"});
  lim.max_rows = 3;
  auto e = read_err(xlsx({sheet_xml(rows_xml), std::nullopt}), lim);
  CHECK(e.kind == ErrorKind::too_long);
  CHECK(e.message == "xlsx: sheet has more than 3 rows: split it into several files");
}

TEST_CASE("xlsx: offsets outside the file in the ZIP directories are refused") {
  const Bytes good = xlsx({sheet_xml(R"(<row r="1"><c r="A1"><v>1</v></c></row>)"), std::nullopt});
  const std::string again = " (damaged file): upload it again, or save the sheet as Excel Workbook (.xlsx) or CSV";

  Bytes bad = good;  // the central directory's own offset
  set32(bad, bad.size() - 22 + 16, static_cast<std::uint32_t>(bad.size()));
  CHECK(read_err(bad).message == "xlsx: the ZIP central directory lies outside the file" + again);

  bad = good;  // its size
  set32(bad, bad.size() - 22 + 12, 0x7FFFFFF0);
  CHECK(read_err(bad).message == "xlsx: the ZIP central directory lies outside the file" + again);

  bad = good;  // more entries than it holds
  set16(bad, bad.size() - 22 + 8, 9);
  set16(bad, bad.size() - 22 + 10, 9);
  CHECK(read_err(bad).message == "xlsx: ZIP central directory entry 6 is not where the directory says" + again);

  bad = good;  // a name longer than the directory
  set16(bad, central_entry(bad, "xl/worksheets/sheet1.xml") + 28, 0xFFFF);
  CHECK(read_err(bad).message == "xlsx: ZIP central directory entry 5 runs past the directory" + again);

  bad = good;  // a local header offset past the end
  set32(bad, central_entry(bad, "xl/workbook.xml") + 42, 0x7FFFFFF0);
  auto e = read_err(bad);
  CHECK(e.kind == ErrorKind::bad_value);
  CHECK(e.message == "xlsx: the local header of xl/workbook.xml is not where the ZIP directory says" + again);

  bad = good;  // a local header offset into the middle of another entry
  set32(bad, central_entry(bad, "xl/workbook.xml") + 42, 7);
  CHECK(read_err(bad).message == "xlsx: the local header of xl/workbook.xml is not where the ZIP directory says" + again);

  bad = good;  // a compressed size past the end of the file
  set32(bad, central_entry(bad, "xl/worksheets/sheet1.xml") + 20, 0x7FFFFFF0);
  CHECK(read_err(bad).message == "xlsx: entry xl/worksheets/sheet1.xml runs past the end of the file" + again);

  bad = good;  // ZIP64 markers
  set32(bad, bad.size() - 22 + 16, 0xFFFFFFFF);
  CHECK(read_err(bad).message == "xlsx: ZIP64 archives are not supported: save the sheet as Excel Workbook (.xlsx) or CSV");
}

TEST_CASE("xlsx: damaged, encrypted and unsupported entries are refused by name") {
  const Book book{sheet_xml(R"(<row r="1"><c r="A1"><v>1</v></c></row>)"), std::nullopt, false};
  const Bytes good = xlsx(book);
  const std::string again = " (damaged file): upload it again, or save the sheet as Excel Workbook (.xlsx) or CSV";

  Bytes bad = good;  // one byte of a stored entry changed: the CRC says so
  const std::string sheet = "xl/worksheets/sheet1.xml";
  const std::size_t local = get32(bad, central_entry(bad, sheet) + 42);
  bad[local + 30 + sheet.size() + 60] ^= 0x01;
  CHECK(read_err(bad).message == "xlsx: entry xl/worksheets/sheet1.xml does not match its size or CRC" + again);

  bad = good;
  set16(bad, central_entry(bad, "xl/workbook.xml") + 10, 12);  // bzip2
  auto e = read_err(bad);
  CHECK(e.kind == ErrorKind::bad_value);
  CHECK(e.message == "xlsx: encrypted or unsupported compression method 12 in xl/workbook.xml: remove any password and "
                     "save the sheet as Excel Workbook (.xlsx) or CSV");

  bad = good;
  set16(bad, central_entry(bad, "xl/workbook.xml") + 8, 1);  // the encrypted flag
  CHECK(read_err(bad).message == "xlsx: encrypted or unsupported compression method 0 in xl/workbook.xml: remove any password and "
                                 "save the sheet as Excel Workbook (.xlsx) or CSV");

  // Deflate data cut short (sizes patched to match, so only the stream is wrong).
  std::vector<Part> parts = parts_of({book.sheet, std::nullopt, true});
  parts.back().packed.resize(parts.back().packed.size() / 2);
  CHECK(read_err(zip(parts)).message == "xlsx: entry xl/worksheets/sheet1.xml ends in the middle of its compressed data" + again);
  parts = parts_of({book.sheet, std::nullopt, true});
  parts.back().packed.assign(20, 0xFF);
  CHECK(read_err(zip(parts)).message == "xlsx: entry xl/worksheets/sheet1.xml has invalid compressed data" + again);
}

TEST_CASE("xlsx: a missing first sheet is named") {
  std::vector<Part> parts = parts_of({sheet_xml(""), std::nullopt});
  parts.pop_back();  // xl/worksheets/sheet1.xml
  auto e = read_err(zip(parts));
  CHECK(e.kind == ErrorKind::bad_value);
  CHECK(e.message == "xlsx: the first sheet (xl/worksheets/sheet1.xml) is missing from the file: "
                     "save the sheet as Excel Workbook (.xlsx) or CSV");

  // A relationship to a part that is not there: sheet1.xml, which may be another sheet, is not
  // read instead.
  parts.push_back(stored("xl/worksheets/sheet1.xml", sheet_xml(R"(<row r="1"><c r="A1"><v>1</v></c></row>)")));
  parts[3] = stored("xl/_rels/workbook.xml.rels",
                    kXmlHead + R"(<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">)"
                               R"(<Relationship Id="rId1" Type=")" + kRel + R"(/worksheet" Target="worksheets/gone.xml"/></Relationships>)");
  CHECK(read_err(zip(parts)).message == "xlsx: the first sheet (xl/worksheets/gone.xml) is missing from the file: "
                                        "save the sheet as Excel Workbook (.xlsx) or CSV");

  // One that leaves the package.
  parts[3] = stored("xl/_rels/workbook.xml.rels",
                    kXmlHead + R"(<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">)"
                               R"(<Relationship Id="rId1" Type=")" + kRel + R"(/worksheet" Target="../../etc/passwd"/></Relationships>)");
  CHECK(read_err(zip(parts)).message == "xlsx: xl/_rels/workbook.xml.rels gives the first sheet a path that cannot be in the "
                                        "file (\"../../etc/passwd\"): save the sheet as Excel Workbook (.xlsx) or CSV");
}

TEST_CASE("xlsx: cell, column, file and memory limits, each named") {
  XlsxLimits lim;
  lim.max_cell = 8;
  auto e = read_err(xlsx({sheet_xml(R"(<row r="4"><c r="A4"><v>1</v></c><c r="B4" t="s"><v>0</v></c></row>)"), sst_xml({"<t>123456789</t>"})}), lim);
  CHECK(e.kind == ErrorKind::too_long);
  CHECK(e.message == "xlsx: cell B4 holds 9 bytes, more than the 8-byte limit: shorten it");
  CHECK(read_ok(xlsx({sheet_xml(R"(<row r="4"><c r="A4" t="s"><v>0</v></c></row>)"), sst_xml({"<t>12345678</t>"})}), lim)[0].cells ==
        Cells{"12345678"});

  lim = {};
  lim.max_columns = 3;
  const Book wide{sheet_xml(R"(<row r="2"><c r="A2"><v>1</v></c><c r="C2"><v>3</v></c><c r="D2" s="1"/><c r="XFD2" s="1"/></row>)"
                            R"(<row r="3"><c r="D3"><v>4</v></c></row>)")};
  e = read_err(xlsx(wide), lim);
  CHECK(e.kind == ErrorKind::too_long);
  CHECK(e.message == "xlsx: cell D3 is beyond column C, the last one read: move the data into the first 3 columns");

  lim = {};
  const Bytes file = xlsx(wide);
  lim.max_file = file.size() - 1;
  e = read_err(file, lim);
  CHECK(e.kind == ErrorKind::too_long);
  CHECK(e.message == "xlsx: the file is " + std::to_string(file.size()) + " bytes, more than the " +
                         std::to_string(file.size() - 1) + " bytes limit: split the sheet into smaller files");

  // Short cells standing for one long shared string: what the rows take is capped at
  // 4 x max_entry.
  lim = {};
  lim.max_entry = 4096;
  std::string rows_xml;
  for (int r = 1; r <= 70; ++r) rows_xml += "<row><c t=\"s\"><v>0</v></c></row>";
  e = read_err(xlsx({sheet_xml(rows_xml), sst_xml({"<t>" + std::string(200, 'x') + "</t>"})}), lim);
  CHECK(e.kind == ErrorKind::too_long);
  CHECK(e.message == "xlsx: the sheet's cells would take more than 16 KiB of memory: split it into smaller files");
}

TEST_CASE("xlsx: malformed sheets are refused with where") {
  const std::string save = ": save the sheet as Excel Workbook (.xlsx) or CSV";
  auto msg = [&](const std::string& sheet, std::optional<std::string> strings = std::nullopt) {
    return read_err(xlsx({sheet, std::move(strings)})).message;
  };
  CHECK(msg(sheet_xml(R"(<row r="1"><c r="A1" t="s"><v>2</v></c></row>)"), sst_xml({"<t>a</t>", "<t>b</t>"})) ==
        "xlsx: cell A1 refers to shared string 2, but there are only 2 in xl/worksheets/sheet1.xml" + save);
  CHECK(msg(sheet_xml(R"(<row r="1"><c r="1A"><v>2</v></c></row>)")) ==
        "xlsx: cell reference \"1A\" in row 1 is not a column letter and row number in xl/worksheets/sheet1.xml" + save);
  CHECK(msg(sheet_xml(R"(<row r="0"><c><v>2</v></c></row>)")) ==
        "xlsx: row number \"0\" is not a number from 1 up in xl/worksheets/sheet1.xml" + save);
  CHECK(msg(sheet_xml(R"(<row r="空调空调空调空调空调"><c><v>2</v></c></row>)")) ==  // cut at a character
        "xlsx: row number \"空调空调空调...\" is not a number from 1 up in xl/worksheets/sheet1.xml" + save);
  CHECK(msg(sheet_xml(R"(<row r="1"><c r="A1" t="inlineStr"><is><t>&nbsp;</t></is></c></row>)")) ==
        "xlsx: xl/worksheets/sheet1.xml is not well-formed XML (it holds an unknown entity, at byte 344)" + save);
  CHECK(msg(kXmlHead + "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><worksheet><sheetData/></worksheet>") ==
        "xlsx: xl/worksheets/sheet1.xml is not well-formed XML (it has a DOCTYPE or other declaration, which spreadsheets "
        "do not use, at byte 56)" + save);
  CHECK(msg("<worksheet><sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c></row>") ==
        "xlsx: xl/worksheets/sheet1.xml is not well-formed XML (<sheetData> is not closed, at byte 61)" + save);
  CHECK(msg("<worksheet><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>\xC3\x28</t></is></c></row></sheetData></worksheet>") ==
        "xlsx: xl/worksheets/sheet1.xml is not UTF-8 text (at byte 64)" + save);
}
