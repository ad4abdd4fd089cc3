#include "core/error.hpp"

namespace m2m {

std::string_view to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::bad_escape: return "bad_escape";
    case ErrorKind::bad_length: return "bad_length";
    case ErrorKind::bad_crc: return "bad_crc";
    case ErrorKind::too_long: return "too_long";
    case ErrorKind::truncated: return "truncated";
    case ErrorKind::garbage: return "garbage";
    case ErrorKind::bad_value: return "bad_value";
    case ErrorKind::bad_hex: return "bad_hex";
    case ErrorKind::bad_json: return "bad_json";
    case ErrorKind::bad_checksum: return "bad_checksum";
    case ErrorKind::io: return "io";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::closed: return "closed";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::refused: return "refused";
    case ErrorKind::interrupted: return "interrupted";
  }
  return "unknown";
}

}  // namespace m2m
