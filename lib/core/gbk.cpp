#include "core/gbk.hpp"

#include <iconv.h>

#include <cerrno>

namespace m2m {
namespace {

// Plain ASCII needs no conversion and is by far the common case (hosts, file names).
bool is_ascii(ByteView b) {
  for (std::uint8_t c : b)
    if (c >= 0x80) return false;
  return true;
}

Result<std::string> convert(const char* to, const char* from, ByteView in) {
  iconv_t cd = iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1))
    return fail(ErrorKind::io, std::string("iconv cannot convert ") + from + " to " + to);
  std::string out(in.size() * 2 + 8, '\0');
  char* ip = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
  std::size_t il = in.size();
  char* op = out.data();
  std::size_t ol = out.size();
  std::size_t r = iconv(cd, &ip, &il, &op, &ol);
  int err = errno;
  iconv_close(cd);
  if (r == static_cast<std::size_t>(-1)) {
    std::uint64_t at = static_cast<std::uint64_t>(ip - reinterpret_cast<const char*>(in.data()));
    return fail(ErrorKind::bad_value,
                std::string(err == EILSEQ ? "invalid " : "incomplete ") + from + " sequence at byte " +
                    std::to_string(at),
                at);
  }
  out.resize(out.size() - ol);
  return out;
}

}  // namespace

Result<std::string> gbk_to_utf8(ByteView gbk) {
  if (is_ascii(gbk)) return std::string(gbk.begin(), gbk.end());
  return convert("UTF-8", "GBK", gbk);
}

Result<Bytes> utf8_to_gbk(std::string_view utf8) {
  ByteView in = as_bytes(utf8);
  if (is_ascii(in)) return Bytes(in.begin(), in.end());
  auto r = convert("GBK", "UTF-8", in);
  if (!r) return unexpected(std::move(r).error());
  return Bytes(r->begin(), r->end());
}

}  // namespace m2m
