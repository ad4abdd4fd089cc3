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

// One iconv descriptor per direction and thread: iconv_open loads and parses the charset
// tables, which costs far more than converting a short string.
class Converter {
 public:
  Converter(const char* to, const char* from) : cd_(iconv_open(to, from)), to_(to), from_(from) {}
  ~Converter() {
    if (ok()) iconv_close(cd_);
  }
  Converter(const Converter&) = delete;
  Converter& operator=(const Converter&) = delete;

  Result<std::string> run(ByteView in) {
    if (!ok()) return fail(ErrorKind::io, std::string("iconv cannot convert ") + from_ + " to " + to_);
    iconv(cd_, nullptr, nullptr, nullptr, nullptr);  // reset shift state after a failed call
    // Worst case growth is 3x (GBK 0x80 is U+20AC, three UTF-8 bytes); UTF-8 -> GBK shrinks.
    std::string out(in.size() * 3 + 4, '\0');
    char* ip = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    std::size_t il = in.size();
    char* op = out.data();
    std::size_t ol = out.size();
    if (iconv(cd_, &ip, &il, &op, &ol) == static_cast<std::size_t>(-1)) {
      const int err = errno;
      const auto at = static_cast<std::uint64_t>(ip - reinterpret_cast<const char*>(in.data()));
      const char* what = err == EILSEQ ? "invalid " : err == EINVAL ? "incomplete " : "unconvertible ";
      return fail(ErrorKind::bad_value, what + std::string(from_) + " sequence at byte " + std::to_string(at), at);
    }
    out.resize(out.size() - ol);
    return out;
  }

 private:
  bool ok() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t cd_;
  const char* to_;
  const char* from_;
};

}  // namespace

Result<std::string> gbk_to_utf8(ByteView gbk) {
  if (is_ascii(gbk)) return std::string(gbk.begin(), gbk.end());
  thread_local Converter conv("UTF-8", "GBK");
  return conv.run(gbk);
}

Result<Bytes> utf8_to_gbk(std::string_view utf8) {
  ByteView in = as_bytes(utf8);
  if (is_ascii(in)) return Bytes(in.begin(), in.end());
  thread_local Converter conv("GBK", "UTF-8");
  auto r = conv.run(in);
  if (!r) return unexpected(std::move(r).error());
  return Bytes(r->begin(), r->end());
}

}  // namespace m2m
