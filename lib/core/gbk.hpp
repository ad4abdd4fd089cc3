// GBK <-> UTF-8 for the protocol's strings (file names, event descriptions, hosts).
// Uses glibc iconv; invalid input is an error, never a crash.
#pragma once

#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace m2m {

Result<std::string> gbk_to_utf8(ByteView gbk);
Result<Bytes> utf8_to_gbk(std::string_view utf8);

}  // namespace m2m
