// The one error type of the codecs: a kind, the byte offset where it was found, a message.
// Codecs never throw on untrusted input; they return Result<T>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/expected.hpp"

namespace m2m {

enum class ErrorKind : std::uint8_t {
  // stream / framing (names are the `error` values of the JSON interchange format)
  bad_escape,   // 0x54 followed by something other than 01 / 02
  bad_length,   // length field disagrees with the bytes between head and tail
  bad_crc,      // CRC over head..data does not match
  too_long,     // more than the 1400-byte limit
  truncated,    // input ended inside a frame
  garbage,      // bytes outside any frame were skipped
  // content
  bad_value,    // a field or body does not have the form its command requires
  bad_hex,      // hex text that is not hex
  bad_json,     // JSON that is not a frame object
  bad_checksum, // Gree checksum mismatch
  io,           // operating-system level failure (file, port, socket)
  // sessions and networks (what a client or server run ends with; see cli::exit_code)
  timeout,      // a bounded wait ran out
  closed,       // the peer closed the connection
  unavailable,  // the peer or port cannot be reached (refused connect, reset, unreachable)
  refused,      // the peer answered no (login rejected, status fail)
  interrupted,  // SIGINT/SIGTERM or a stop request
};

// The names above are the JSON `error` values of decode errors (m2m-protocol(7), JSON
// INTERCHANGE): never rename one.
std::string_view to_string(ErrorKind k);

struct Error {
  ErrorKind kind = ErrorKind::bad_value;
  std::uint64_t offset = 0;  // byte offset in the input the error refers to (0 when n/a)
  std::string message;
};

template <class T>
using Result = expected<T, Error>;

// Shorthand for `return fail(ErrorKind::bad_value, "…")`.
inline unexpected<Error> fail(ErrorKind kind, std::string message, std::uint64_t offset = 0) {
  return unexpected<Error>(Error{kind, offset, std::move(message)});
}

}  // namespace m2m
