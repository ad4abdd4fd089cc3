#include "web/xlsx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace m2m::web {
namespace {

constexpr std::string_view kSaveAgain = "save the sheet as Excel Workbook (.xlsx) or CSV";

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

// "32 MiB", "64 KiB" or "1000 bytes": limits as the person who set them wrote them.
std::string size_text(std::uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

// ---------------------------------------------------------------------------------------------
// ZIP: the central directory locates the entries; only the three or four entries the reader
// needs are ever inflated, one at a time.

constexpr std::uint32_t kEocdSig = 0x06054b50, kCentralSig = 0x02014b50, kLocalSig = 0x04034b50;
constexpr std::size_t kEocdSize = 22, kCentralSize = 46, kLocalSize = 30;

struct ZipEntry {
  std::string_view name;
  std::uint16_t flags = 0, method = 0;
  std::uint32_t crc = 0;
  std::uint64_t packed = 0, size = 0, local = 0;
};

Error damaged(std::string what, std::uint64_t offset) {
  return Error{ErrorKind::bad_value, offset, "xlsx: " + what + " (damaged file): upload it again, or " + std::string(kSaveAgain)};
}

Result<std::vector<ZipEntry>> read_directory(ByteView f) {
  const std::size_t n = f.size();
  std::optional<std::size_t> eocd;
  if (n >= kEocdSize) {
    // The record is the last thing in the file but for a comment of up to 65535 bytes.
    const std::size_t lowest = n - kEocdSize > 0xFFFF ? n - kEocdSize - 0xFFFF : 0;
    for (std::size_t at = n - kEocdSize + 1; at-- > lowest;) {
      if (le32(f.data() + at) == kEocdSig && at + kEocdSize + get_le16(f.data() + at + 20) <= n) {
        eocd = at;
        break;
      }
    }
  }
  if (!eocd) {
    static constexpr std::uint8_t kOle[] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    if (n >= 8 && std::equal(kOle, kOle + 8, f.data()))
      return fail(ErrorKind::bad_value,
                  "not an .xlsx file: this is an Excel 97-2003 .xls workbook or a password-protected one: "
                  "remove the password and save the sheet as Excel Workbook (.xlsx) or CSV");
    if (n >= 4 && le32(f.data()) == kLocalSig)
      return fail(ErrorKind::truncated,
                  "xlsx: the file is cut short (it starts as a ZIP but its end of central directory is missing): "
                  "upload it again",
                  n);
    return fail(ErrorKind::bad_value, "not an .xlsx file (no ZIP end of central directory): " + std::string(kSaveAgain));
  }
  const std::uint8_t* e = f.data() + *eocd;
  const std::uint16_t disk = get_le16(e + 4), cd_disk = get_le16(e + 6);
  const std::uint16_t count_here = get_le16(e + 8), count = get_le16(e + 10);
  const std::uint32_t cd_size = le32(e + 12), cd_offset = le32(e + 16);
  if (count == 0xFFFF || count_here == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF)
    return fail(ErrorKind::bad_value, "xlsx: ZIP64 archives are not supported: " + std::string(kSaveAgain), *eocd);
  if (disk != 0 || cd_disk != 0 || count_here != count)
    return fail(ErrorKind::bad_value, "xlsx: ZIP archives split over several disks are not supported: " + std::string(kSaveAgain), *eocd);
  if (std::uint64_t{cd_offset} + cd_size > *eocd)
    return unexpected(damaged("the ZIP central directory lies outside the file", *eocd));

  std::vector<ZipEntry> entries;
  std::size_t at = cd_offset;
  const std::size_t end = std::size_t{cd_offset} + cd_size;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (end - at < kCentralSize || le32(f.data() + at) != kCentralSig)
      return unexpected(damaged("ZIP central directory entry " + std::to_string(i + 1) + " is not where the directory says", at));
    const std::uint8_t* c = f.data() + at;
    const std::size_t name_len = get_le16(c + 28), extra_len = get_le16(c + 30), comment_len = get_le16(c + 32);
    if (end - at - kCentralSize < name_len + extra_len + comment_len)
      return unexpected(damaged("ZIP central directory entry " + std::to_string(i + 1) + " runs past the directory", at));
    ZipEntry z;
    z.name = std::string_view(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    z.flags = get_le16(c + 8);
    z.method = get_le16(c + 10);
    z.crc = le32(c + 16);
    z.packed = le32(c + 20);
    z.size = le32(c + 24);
    z.local = le32(c + 42);
    entries.push_back(z);
    at += kCentralSize + name_len + extra_len + comment_len;
  }
  return entries;
}

const ZipEntry* find_entry(const std::vector<ZipEntry>& entries, std::string_view name) {
  for (const auto& z : entries)
    if (z.name == name) return &z;
  return nullptr;
}

struct InflateStream {
  z_stream zs{};
  bool open = false;
  ~InflateStream() {
    if (open) inflateEnd(&zs);
  }
};

// The entry's bytes, never more than max_entry of them whatever its headers declare.
Result<std::string> read_entry(ByteView f, const ZipEntry& z, const XlsxLimits& lim) {
  const std::string name(z.name);
  if (z.packed == 0xFFFFFFFF || z.size == 0xFFFFFFFF || z.local == 0xFFFFFFFF)
    return fail(ErrorKind::bad_value, "xlsx: ZIP64 entry " + name + " is not supported: " + std::string(kSaveAgain), z.local);
  if ((z.flags & 1) || (z.method != 0 && z.method != 8))
    return fail(ErrorKind::bad_value,
                "xlsx: encrypted or unsupported compression method " + std::to_string(z.method) + " in " + name +
                    ": remove any password and " + std::string(kSaveAgain),
                z.local);
  if (z.local > f.size() || f.size() - z.local < kLocalSize || le32(f.data() + z.local) != kLocalSig)
    return unexpected(damaged("the local header of " + name + " is not where the ZIP directory says", z.local));
  const std::uint64_t data =
      z.local + kLocalSize + get_le16(f.data() + z.local + 26) + std::uint64_t{get_le16(f.data() + z.local + 28)};
  if (data > f.size() || f.size() - data < z.packed)
    return unexpected(damaged("entry " + name + " runs past the end of the file", z.local));
  const std::uint8_t* in = f.data() + data;
  const std::string too_big = "xlsx: entry " + name + " would inflate past " + size_text(lim.max_entry) +
                              ": split the sheet into smaller files";
  if (z.size > lim.max_entry) return fail(ErrorKind::too_long, too_big, z.local);

  std::string out;
  if (z.method == 0) {
    if (z.packed != z.size) return unexpected(damaged("stored entry " + name + " has two different sizes", z.local));
    out.assign(reinterpret_cast<const char*>(in), z.packed);
  } else {
    InflateStream s;
    if (inflateInit2(&s.zs, -15) != Z_OK) return fail(ErrorKind::io, "xlsx: cannot start zlib's inflate");
    s.open = true;
    s.zs.next_in = const_cast<Bytef*>(in);
    s.zs.avail_in = static_cast<uInt>(z.packed);  // <= the file size, under 4 GiB (no ZIP64)
    // <= max_entry (checked above), and no more than deflate's best ratio (1032:1) allows.
    out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(z.size, z.packed * 1032 + 64)));
    auto chunk = std::make_unique<std::array<Bytef, 64 * 1024>>();
    for (;;) {
      s.zs.next_out = chunk->data();
      s.zs.avail_out = static_cast<uInt>(chunk->size());
      const int rc = inflate(&s.zs, Z_NO_FLUSH);
      const std::size_t got = chunk->size() - s.zs.avail_out;
      if (got > lim.max_entry - out.size()) return fail(ErrorKind::too_long, too_big, z.local);
      out.append(reinterpret_cast<const char*>(chunk->data()), got);
      if (rc == Z_STREAM_END) break;
      if (rc == Z_OK) continue;
      if (rc == Z_BUF_ERROR && s.zs.avail_in == 0)
        return unexpected(damaged("entry " + name + " ends in the middle of its compressed data", z.local));
      return unexpected(damaged("entry " + name + " has invalid compressed data", z.local));
    }
  }
  if (out.size() != z.size ||
      crc32_z(0, reinterpret_cast<const Bytef*>(out.data()), out.size()) != z.crc)
    return unexpected(damaged("entry " + name + " does not match its size or CRC", z.local));
  return out;
}

// ---------------------------------------------------------------------------------------------
// XML: just enough for the three parts: elements (prefixes dropped), attributes, text, CDATA,
// comments and processing instructions skipped. The text is checked to be UTF-8 first, and the
// scanner only cuts it at ASCII characters, so every piece it hands out is UTF-8 too.

bool valid_utf8(std::string_view s, std::size_t& bad) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      bad = i;
      return false;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) {
      bad = i;
      return false;
    }
    for (std::size_t k = 2; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) {
        bad = i;
        return false;
      }
    i += len;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends `raw` with its entities decoded and its line ends normalised (CR LF and CR -> LF, as
// XML requires). False, with `bad` the offset in raw, on an entity that is not one of XML's five
// or a character reference to a character XML allows.
bool append_decoded(std::string& out, std::string_view raw, std::size_t& bad) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\r') {
      out += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      continue;
    }
    if (c != '&') {
      out += c;
      continue;
    }
    const std::size_t semi = raw.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 12) {
      bad = i;
      return false;
    }
    const std::string_view ent = raw.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (ent.size() >= 2 && ent[0] == '#') {
      const bool hex = ent[1] == 'x';
      const std::string_view digits = ent.substr(hex ? 2 : 1);
      std::uint32_t cp = 0;
      if (digits.empty() || digits.size() > 8) {
        bad = i;
        return false;
      }
      for (char d : digits) {
        const int v = hex ? hex_digit(d) : (d >= '0' && d <= '9' ? d - '0' : -1);
        if (v < 0 || cp > 0x10FFFF) {
          bad = i;
          return false;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
      }
      if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        bad = i;
        return false;
      }
      append_utf8(out, cp);
    } else {
      bad = i;
      return false;
    }
    i = semi;
  }
  return true;
}

// Excel's escape for characters XML cannot hold, in string cells: "_x000D_" is a CR, and
// "_x005F_" an underscore (how a literal "_x000D_" is written).
std::string unescape_xstring(std::string s) {
  if (s.find("_x") == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i + 6 < s.size() && s[i + 1] == 'x' && s[i + 6] == '_') {
      std::uint32_t cp = 0;
      bool ok = true;
      for (std::size_t k = 2; k < 6; ++k) {
        const int v = hex_digit(s[i + k]);
        if (v < 0) ok = false;
        cp = cp * 16 + static_cast<std::uint32_t>(v < 0 ? 0 : v);
      }
      if (ok && cp != 0 && !(cp >= 0xD800 && cp <= 0xDFFF)) {
        append_utf8(out, cp);
        i += 6;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string_view local_name(std::string_view qname) {
  const std::size_t colon = qname.rfind(':');
  return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

struct XmlToken {
  enum class Kind { start, end, text, cdata, eof, error };
  Kind kind = Kind::eof;
  std::string_view name;   // local name (start, end)
  std::string_view attrs;  // between the name and '>' or "/>" (start)
  bool empty = false;      // <c/> (start)
  std::string_view text;   // raw text (text, cdata)
  std::size_t offset = 0;
};

class XmlScanner {
 public:
  XmlScanner(std::string_view doc, std::string entry) : doc_(doc), entry_(std::move(entry)) {
    if (doc_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
  }

  XmlToken next() {
    for (;;) {
      XmlToken t;
      t.offset = pos_;
      if (pos_ >= doc_.size()) return t;
      if (doc_[pos_] != '<') {
        std::size_t lt = doc_.find('<', pos_);
        if (lt == std::string_view::npos) lt = doc_.size();
        t.kind = XmlToken::Kind::text;
        t.text = doc_.substr(pos_, lt - pos_);
        pos_ = lt;
        return t;
      }
      const std::string_view rest = doc_.substr(pos_);
      if (rest.starts_with("<!--")) {
        if (!skip_past("-->", 4)) return bad("a comment is not closed", t.offset);
        continue;
      }
      if (rest.starts_with("<![CDATA[")) {
        const std::size_t close = doc_.find("]]>", pos_ + 9);
        if (close == std::string_view::npos) return bad("a CDATA section is not closed", t.offset);
        t.kind = XmlToken::Kind::cdata;
        t.text = doc_.substr(pos_ + 9, close - pos_ - 9);
        pos_ = close + 3;
        return t;
      }
      if (rest.starts_with("<?")) {
        if (!skip_past("?>", 2)) return bad("a processing instruction is not closed", t.offset);
        continue;
      }
      if (rest.starts_with("<!")) return bad("it has a DOCTYPE or other declaration, which spreadsheets do not use", t.offset);
      const bool closing = rest.starts_with("</");
      std::size_t i = pos_ + (closing ? 2 : 1);
      const std::size_t name_at = i;
      while (i < doc_.size() && !is_space(doc_[i]) && doc_[i] != '>' && doc_[i] != '/' && doc_[i] != '<') ++i;
      if (i == name_at) return bad("a tag has no name", t.offset);
      t.name = local_name(doc_.substr(name_at, i - name_at));
      const std::size_t attrs_at = i;
      char quote = 0;
      for (; i < doc_.size(); ++i) {
        const char c = doc_[i];
        if (quote) {
          if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
          quote = c;
        } else if (c == '>') {
          break;
        } else if (c == '<') {
          return bad("a tag is not closed", t.offset);
        }
      }
      if (i >= doc_.size()) return bad("a tag is not closed", t.offset);
      std::string_view attrs = doc_.substr(attrs_at, i - attrs_at);
      pos_ = i + 1;
      if (closing) {
        t.kind = XmlToken::Kind::end;
        return t;
      }
      if (attrs.ends_with('/')) {
        t.empty = true;
        attrs.remove_suffix(1);
      }
      t.kind = XmlToken::Kind::start;
      t.attrs = attrs;
      return t;
    }
  }

  // The value of the attribute whose local name is `name`, entities decoded.
  Result<std::optional<std::string>> attr(const XmlToken& t, std::string_view name) const {
    std::string_view a = t.attrs;
    for (;;) {
      a = trim(a);
      if (a.empty()) return std::optional<std::string>();
      const std::size_t eq = a.find('=');
      if (eq == std::string_view::npos) return err("an attribute has no value", t.offset);
      const std::string_view key = trim(a.substr(0, eq));
      a = trim(a.substr(eq + 1));
      if (a.empty() || (a[0] != '"' && a[0] != '\'')) return err("an attribute value is not quoted", t.offset);
      const std::size_t close = a.find(a[0], 1);
      if (close == std::string_view::npos) return err("an attribute value is not closed", t.offset);
      if (local_name(key) == name && !key.starts_with("xmlns")) {
        std::string value;
        std::size_t bad_at = 0;
        if (!append_decoded(value, a.substr(1, close - 1), bad_at)) return err("an attribute holds an unknown entity", t.offset);
        return std::optional<std::string>(std::move(value));
      }
      a.remove_prefix(close + 1);
    }
  }

  // Appends a text or CDATA token's characters.
  Result<void> append_text(std::string& out, const XmlToken& t) const {
    if (t.kind == XmlToken::Kind::cdata) {
      out += t.text;
      return {};
    }
    std::size_t bad_at = 0;
    if (!append_decoded(out, t.text, bad_at)) return err("it holds an unknown entity", t.offset + bad_at);
    return {};
  }

  unexpected<Error> err(std::string what, std::size_t offset) const {
    return fail(ErrorKind::bad_value,
                "xlsx: " + entry_ + " is not well-formed XML (" + what + ", at byte " + std::to_string(offset) +
                    "): " + std::string(kSaveAgain),
                offset);
  }
  const Error& error() const { return error_; }

 private:
  bool skip_past(std::string_view close, std::size_t from) {
    const std::size_t at = doc_.find(close, pos_ + from);
    if (at == std::string_view::npos) return false;
    pos_ = at + close.size();
    return true;
  }
  XmlToken bad(std::string what, std::size_t offset) {
    error_ = err(std::move(what), offset).error();
    pos_ = doc_.size();
    XmlToken t;
    t.kind = XmlToken::Kind::error;
    return t;
  }

  std::string_view doc_;
  std::string entry_;
  std::size_t pos_ = 0;
  Error error_;
};

Result<void> check_utf8(std::string_view doc, const std::string& entry) {
  std::size_t bad = 0;
  if (doc.starts_with("\xFF\xFE") || doc.starts_with("\xFE\xFF"))
    return fail(ErrorKind::bad_value, "xlsx: " + entry + " is UTF-16 XML, which is not supported: " + std::string(kSaveAgain));
  if (!valid_utf8(doc, bad))
    return fail(ErrorKind::bad_value,
                "xlsx: " + entry + " is not UTF-8 text (at byte " + std::to_string(bad) + "): " + std::string(kSaveAgain), bad);
  return {};
}

#define XLSX_TRY(expr)                                   \
  do {                                                   \
    auto r_ = (expr);                                    \
    if (!r_) return unexpected(std::move(r_).error());   \
  } while (0)

// ---------------------------------------------------------------------------------------------
// The parts.

// xl/workbook.xml: the relationship id of the first <sheet>.
Result<std::string> first_sheet_rid(std::string_view xml) {
  const std::string entry = "xl/workbook.xml";
  XLSX_TRY(check_utf8(xml, entry));
  XmlScanner x(xml, entry);
  for (;;) {
    XmlToken t = x.next();
    if (t.kind == XmlToken::Kind::error) return unexpected(x.error());
    if (t.kind == XmlToken::Kind::eof) return std::string();
    if (t.kind == XmlToken::Kind::start && t.name == "sheet") {
      auto id = x.attr(t, "id");
      if (!id) return unexpected(std::move(id).error());
      return id->value_or(std::string());
    }
  }
}

// At most 20 bytes of an attribute value for a message: cut at a character boundary (the
// value is UTF-8), control characters shown as '?'.
std::string excerpt(std::string_view s) {
  std::size_t n = std::min<std::size_t>(s.size(), 20);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  std::string out(s.substr(0, n));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  return n < s.size() ? out + "..." : out;
}

// "xl/" + a relationship target, with "." and ".." resolved; empty when it leaves the package,
// is longer than 255 bytes or holds control characters (it is named in messages).
std::string resolve_target(std::string_view target) {
  std::string path = target.starts_with('/') ? std::string(target.substr(1)) : "xl/" + std::string(target);
  std::vector<std::string_view> parts;
  std::string_view p = path;
  while (!p.empty()) {
    const std::size_t slash = p.find('/');
    const std::string_view seg = p.substr(0, slash);
    p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (parts.empty()) return {};
      parts.pop_back();
      continue;
    }
    parts.push_back(seg);
  }
  if (path.size() > 255 || std::any_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return {};
  std::string out;
  for (auto seg : parts) {
    if (!out.empty()) out += '/';
    out += seg;
  }
  return out;
}

struct WorkbookRels {
  std::string sheet;           // the first sheet's part, when the relationships name it
  std::string shared_strings;  // the shared strings part, when they name one
};

Result<WorkbookRels> read_rels(std::string_view xml, const std::string& rid) {
  const std::string entry = "xl/_rels/workbook.xml.rels";
  XLSX_TRY(check_utf8(xml, entry));
  XmlScanner x(xml, entry);
  WorkbookRels out;
  for (;;) {
    XmlToken t = x.next();
    if (t.kind == XmlToken::Kind::error) return unexpected(x.error());
    if (t.kind == XmlToken::Kind::eof) return out;
    if (t.kind != XmlToken::Kind::start || t.name != "Relationship") continue;
    auto id = x.attr(t, "Id");
    auto target = x.attr(t, "Target");
    auto type = x.attr(t, "Type");
    auto mode = x.attr(t, "TargetMode");
    if (!id) return unexpected(std::move(id).error());
    if (!target) return unexpected(std::move(target).error());
    if (!type) return unexpected(std::move(type).error());
    if (!mode) return unexpected(std::move(mode).error());
    if (!*target || (*mode && **mode == "External")) continue;
    if (!rid.empty() && *id && **id == rid && out.sheet.empty()) {
      out.sheet = resolve_target(**target);
      if (out.sheet.empty())
        return fail(ErrorKind::bad_value, "xlsx: " + entry + " gives the first sheet a path that cannot be in the file (\"" +
                                              excerpt(**target) + "\"): " + std::string(kSaveAgain));
    }
    if (*type && (*type)->ends_with("/sharedStrings") && out.shared_strings.empty())
      out.shared_strings = resolve_target(**target);
  }
}

// The shared strings, one after another in `text`, each ending at ends[i].
struct SharedStrings {
  std::string text;
  std::vector<std::uint32_t> ends;
  std::string_view at(std::size_t i) const {
    const std::uint32_t from = i ? ends[i - 1] : 0;
    return std::string_view(text).substr(from, ends[i] - from);
  }
};

// Text of an <si> or <is>: its <t> elements, rich text runs (<r><t>) included, phonetic
// guides (<rPh><t>) left out.
struct StringItem {
  int t_depth = 0, rph_depth = 0;
  std::string text;
  // True when the token was the item's.
  bool take(const XmlToken& tok) {
    if (tok.kind == XmlToken::Kind::start && !tok.empty) {
      if (tok.name == "t") ++t_depth;
      else if (tok.name == "rPh") ++rph_depth;
      else return false;
      return true;
    }
    if (tok.kind == XmlToken::Kind::end) {
      if (tok.name == "t" && t_depth > 0) --t_depth;
      else if (tok.name == "rPh" && rph_depth > 0) --rph_depth;
      else return false;
      return true;
    }
    return false;
  }
  bool collecting() const { return t_depth > 0 && rph_depth == 0; }
};

Result<SharedStrings> read_shared_strings(std::string_view xml, const std::string& entry) {
  XLSX_TRY(check_utf8(xml, entry));
  XmlScanner x(xml, entry);
  SharedStrings out;
  std::optional<StringItem> si;
  for (;;) {
    XmlToken t = x.next();
    if (t.kind == XmlToken::Kind::error) return unexpected(x.error());
    if (t.kind == XmlToken::Kind::eof) break;
    if (t.kind == XmlToken::Kind::start && t.name == "si") {
      if (!t.empty) {
        si.emplace();
        continue;
      }
      out.ends.push_back(static_cast<std::uint32_t>(out.text.size()));
      continue;
    }
    if (!si) continue;
    if (t.kind == XmlToken::Kind::end && t.name == "si") {
      out.text += unescape_xstring(std::move(si->text));
      out.ends.push_back(static_cast<std::uint32_t>(out.text.size()));  // text <= max_entry < 4 GiB
      si.reset();
      continue;
    }
    if (si->take(t)) continue;
    if ((t.kind == XmlToken::Kind::text || t.kind == XmlToken::Kind::cdata) && si->collecting())
      XLSX_TRY(x.append_text(si->text, t));
  }
  if (si) return x.err("the last <si> is not closed", xml.size());
  return out;
}

std::string column_name(std::size_t col) {
  std::string s;
  for (std::size_t n = col + 1; n > 0; n = (n - 1) / 26) s.insert(s.begin(), static_cast<char>('A' + (n - 1) % 26));
  return s;
}

// An integer-valued number as an integer ("1.0" -> "1", "1E+3" -> "1000", "-0" -> "0"); anything
// else as written.
std::string normalize_number(std::string_view v) {
  std::size_t i = 0;
  bool neg = false;
  if (i < v.size() && (v[i] == '-' || v[i] == '+')) neg = v[i++] == '-';
  std::string digits;
  std::int64_t exp10 = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') digits += v[i++];
  bool any = !digits.empty();
  if (i < v.size() && v[i] == '.') {
    ++i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
      digits += v[i++];
      --exp10;
      any = true;
    }
  }
  if (!any || digits.size() > 400) return std::string(v);
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < v.size() && (v[i] == '-' || v[i] == '+')) eneg = v[i++] == '-';
    if (i == v.size()) return std::string(v);
    std::int64_t e = 0;
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) e = std::min<std::int64_t>(e * 10 + (v[i] - '0'), 100000);
    exp10 += eneg ? -e : e;
  }
  if (i != v.size()) return std::string(v);
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++exp10;
  }
  if (exp10 < 0 || static_cast<std::int64_t>(digits.size()) + exp10 > 20) return std::string(v);
  return (neg ? "-" : "") + digits + std::string(static_cast<std::size_t>(exp10), '0');
}

class SheetReader {
 public:
  SheetReader(const XlsxLimits& lim, const SharedStrings* sst, std::string entry)
      : lim_(lim), sst_(sst), entry_(std::move(entry)) {}

  Result<std::vector<XlsxRow>> read(std::string_view xml) {
    XLSX_TRY(check_utf8(xml, entry_));
    XmlScanner x(xml, entry_);
    bool in_data = false;
    for (;;) {
      XmlToken t = x.next();
      if (t.kind == XmlToken::Kind::error) return unexpected(x.error());
      if (t.kind == XmlToken::Kind::eof) break;
      if (t.kind == XmlToken::Kind::start && t.name == "sheetData") {
        in_data = !t.empty;
        continue;
      }
      if (!in_data) continue;
      switch (t.kind) {
        case XmlToken::Kind::start:
          if (t.name == "row") {
            XLSX_TRY(start_row(x, t));
            if (t.empty) XLSX_TRY(end_row());
          } else if (in_row_ && t.name == "c") {
            XLSX_TRY(start_cell(x, t));
            if (t.empty) XLSX_TRY(end_cell());
          } else if (in_cell_ && !t.empty) {
            if (t.name == "v") ++v_depth_;
            else if (t.name == "is") ++is_depth_, has_is_ = true;
            else if (is_depth_ > 0) item_.take(t);
          }
          break;
        case XmlToken::Kind::end:
          if (t.name == "sheetData") {
            if (in_row_) XLSX_TRY(end_row());
            in_data = false;
          } else if (t.name == "row") {
            if (in_row_) XLSX_TRY(end_row());
          } else if (t.name == "c") {
            if (in_cell_) XLSX_TRY(end_cell());
          } else if (in_cell_) {
            if (t.name == "v" && v_depth_ > 0) --v_depth_;
            else if (t.name == "is" && is_depth_ > 0) --is_depth_;
            else if (is_depth_ > 0) item_.take(t);
          }
          break;
        case XmlToken::Kind::text:
        case XmlToken::Kind::cdata:
          if (in_cell_ && v_depth_ > 0) XLSX_TRY(x.append_text(v_, t));
          else if (in_cell_ && is_depth_ > 0 && item_.collecting()) XLSX_TRY(x.append_text(item_.text, t));
          break;
        default:
          break;
      }
    }
    if (in_data) return x.err("<sheetData> is not closed", xml.size());
    return std::move(rows_);
  }

 private:
  unexpected<Error> fail_at(std::string what) const {
    return fail(ErrorKind::bad_value, "xlsx: " + what + " in " + entry_ + ": " + std::string(kSaveAgain));
  }
  std::string cell_name() const { return column_name(col_) + std::to_string(row_number_); }
  void next_cell() {
    in_cell_ = false;
    ++col_;
  }

  Result<void> start_row(const XmlScanner& x, const XmlToken& t) {
    if (in_row_) XLSX_TRY(end_row());
    auto r = x.attr(t, "r");
    if (!r) return unexpected(std::move(r).error());
    std::uint64_t n = 0;
    if (*r) {
      const std::string& s = **r;
      if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos ||
          (n = std::stoull(s)) == 0 || n > 0xFFFFFFFFu)
        return fail_at("row number \"" + excerpt(s) + "\" is not a number from 1 up");
    } else {
      n = std::uint64_t{row_number_} + 1;
      if (n > 0xFFFFFFFFu) return fail_at("too many rows");
    }
    row_number_ = static_cast<std::uint32_t>(n);
    in_row_ = true;
    cells_.clear();
    col_ = 0;
    return {};
  }

  Result<void> end_row() {
    if (in_cell_) XLSX_TRY(end_cell());
    in_row_ = false;
    if (cells_.empty()) return {};
    if (rows_.size() >= lim_.max_rows)
      return fail(ErrorKind::too_long, "xlsx: sheet has more than " + std::to_string(lim_.max_rows) +
                                           " rows: split it into several files");
    XLSX_TRY(spend(sizeof(XlsxRow)));
    rows_.push_back(XlsxRow{row_number_, std::move(cells_)});
    cells_ = {};
    return {};
  }

  Result<void> start_cell(const XmlScanner& x, const XmlToken& t) {
    if (in_cell_) XLSX_TRY(end_cell());
    auto r = x.attr(t, "r");
    auto type = x.attr(t, "t");
    if (!r) return unexpected(std::move(r).error());
    if (!type) return unexpected(std::move(type).error());
    if (*r) {
      const std::string& s = **r;
      std::size_t i = 0, col = 0;
      while (i < s.size() && i < 4 && s[i] >= 'A' && s[i] <= 'Z') col = col * 26 + static_cast<std::size_t>(s[i++] - 'A' + 1);
      const bool digits = i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
      if (i == 0 || i > 3 || !digits)
        return fail_at("cell reference \"" + excerpt(s) + "\" in row " + std::to_string(row_number_) +
                       " is not a column letter and row number");
      col_ = col - 1;
    }
    type_ = type->value_or(std::string());
    in_cell_ = true;
    v_.clear();
    v_depth_ = is_depth_ = 0;
    item_ = StringItem{};
    has_is_ = false;
    return {};
  }

  // Puts the cell's value at column col_ and moves on to the next column.
  Result<void> end_cell() {
    std::string value;
    const std::string_view v = trim(v_);
    if (type_ == "s") {
      if (!v.empty()) {
        std::uint64_t i = 0;
        if (v.size() > 10 || v.find_first_not_of("0123456789") != std::string_view::npos)
          return fail_at("cell " + cell_name() + " has a shared string index that is not a number");
        i = std::stoull(std::string(v));
        const std::size_t count = sst_ ? sst_->ends.size() : 0;
        if (i >= count)
          return fail_at("cell " + cell_name() + " refers to shared string " + std::to_string(i) + ", but there are only " +
                         std::to_string(count));
        const std::string_view s = sst_->at(static_cast<std::size_t>(i));
        if (s.size() > lim_.max_cell) return too_long_cell(s.size());
        value = s;
      }
    } else if (type_ == "inlineStr" || (has_is_ && type_.empty() && v.empty())) {
      value = unescape_xstring(std::move(item_.text));
    } else if (type_ == "b") {
      value = v == "1" || v == "true" ? "1" : v == "0" || v == "false" ? "0" : std::string(v);
    } else if (type_ == "str") {
      value = unescape_xstring(v_);
    } else if (type_.empty() || type_ == "n") {
      value = normalize_number(v);
    } else {  // "e" (errors such as #N/A), "d" (ISO 8601 dates)
      value = v;
    }
    item_ = StringItem{};
    const std::size_t col = col_;
    if (value.empty()) {
      next_cell();
      return {};
    }
    if (value.size() > lim_.max_cell) return too_long_cell(value.size());
    if (col >= lim_.max_columns)
      return fail(ErrorKind::too_long, "xlsx: cell " + cell_name() + " is beyond column " +
                                           column_name(lim_.max_columns - 1) + ", the last one read: move the data into the first " +
                                           std::to_string(lim_.max_columns) + " columns");
    if (col >= cells_.size()) {
      XLSX_TRY(spend((col + 1 - cells_.size()) * sizeof(std::string)));
      cells_.resize(col + 1);
    }
    XLSX_TRY(spend(value.size()));
    cells_[col] = std::move(value);
    next_cell();
    return {};
  }

  unexpected<Error> too_long_cell(std::size_t n) const {
    return fail(ErrorKind::too_long, "xlsx: cell " + cell_name() + " holds " + std::to_string(n) + " bytes, more than the " +
                                         std::to_string(lim_.max_cell) + "-byte limit: shorten it");
  }

  // What the rows take in memory, capped at 4 x max_entry: a short <c> may stand for a long
  // shared string, or for many empty cells before it.
  Result<void> spend(std::size_t n) {
    const std::size_t budget = lim_.max_entry > SIZE_MAX / 4 ? SIZE_MAX : lim_.max_entry * 4;
    if (n > budget - spent_)
      return fail(ErrorKind::too_long, "xlsx: the sheet's cells would take more than " + size_text(budget) +
                                           " of memory: split it into smaller files");
    spent_ += n;
    return {};
  }

  const XlsxLimits& lim_;
  const SharedStrings* sst_;
  std::string entry_;
  std::vector<XlsxRow> rows_;
  std::vector<std::string> cells_;
  std::size_t spent_ = 0;
  std::uint32_t row_number_ = 0;
  bool in_row_ = false, in_cell_ = false, has_is_ = false;
  std::size_t col_ = 0;
  std::string type_, v_;
  int v_depth_ = 0, is_depth_ = 0;
  StringItem item_;
};

}  // namespace

Result<std::vector<XlsxRow>> read_xlsx(ByteView file, const XlsxLimits& limits) {
  if (file.size() > limits.max_file)
    return fail(ErrorKind::too_long, "xlsx: the file is " + std::to_string(file.size()) + " bytes, more than the " +
                                         size_text(limits.max_file) + " limit: split the sheet into smaller files");
  auto dir = read_directory(file);
  if (!dir) return unexpected(std::move(dir).error());

  constexpr std::string_view kDefaultSheet = "xl/worksheets/sheet1.xml";
  std::string sheet_path, sst_path = "xl/sharedStrings.xml";
  const ZipEntry* workbook = find_entry(*dir, "xl/workbook.xml");
  if (workbook) {
    std::string rid;
    {
      auto xml = read_entry(file, *workbook, limits);
      if (!xml) return unexpected(std::move(xml).error());
      auto r = first_sheet_rid(*xml);
      if (!r) return unexpected(std::move(r).error());
      rid = std::move(*r);
    }
    if (const ZipEntry* rels = find_entry(*dir, "xl/_rels/workbook.xml.rels")) {
      auto xml = read_entry(file, *rels, limits);
      if (!xml) return unexpected(std::move(xml).error());
      auto r = read_rels(*xml, rid);
      if (!r) return unexpected(std::move(r).error());
      sheet_path = std::move(r->sheet);
      if (!r->shared_strings.empty()) sst_path = std::move(r->shared_strings);
    }
  }
  // sheet1.xml only when the workbook does not say which part its first sheet is: when it
  // does, that part and no other (sheet1.xml may well be another sheet).
  const ZipEntry* sheet = find_entry(*dir, sheet_path.empty() ? kDefaultSheet : std::string_view(sheet_path));
  if (!sheet) {
    if (!workbook)
      return fail(ErrorKind::bad_value,
                  "not an .xlsx file (no xl/workbook.xml in the ZIP): " + std::string(kSaveAgain));
    return fail(ErrorKind::bad_value, "xlsx: the first sheet (" + (sheet_path.empty() ? std::string(kDefaultSheet) : sheet_path) +
                                          ") is missing from the file: " + std::string(kSaveAgain));
  }

  // The shared strings are read first and their XML dropped before the sheet is inflated.
  std::optional<SharedStrings> sst;
  if (const ZipEntry* z = find_entry(*dir, sst_path)) {
    auto xml = read_entry(file, *z, limits);
    if (!xml) return unexpected(std::move(xml).error());
    auto s = read_shared_strings(*xml, sst_path);
    if (!s) return unexpected(std::move(s).error());
    sst = std::move(*s);
  }
  auto xml = read_entry(file, *sheet, limits);
  if (!xml) return unexpected(std::move(xml).error());
  SheetReader reader(limits, sst ? &*sst : nullptr, std::string(sheet->name));
  return reader.read(*xml);
}

}  // namespace m2m::web
