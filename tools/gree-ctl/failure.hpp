// What gree-ctl reports when something goes wrong: a message for stderr and the exit code
// from the toolkit's table (DESIGN.md), so every layer can say precisely what happened.
#pragma once

#include <string>

#include "cli/cli.hpp"
#include "core/expected.hpp"

namespace gree_ctl {

struct Failure {
  int exit = m2m::cli::failure;
  std::string message;
  std::string kind = "error";  // short machine name for JSON records: no_reply, bad_checksum, …
};

template <class T>
using Outcome = m2m::expected<T, Failure>;

inline m2m::unexpected<Failure> failed(int exit, std::string message, std::string kind = "error") {
  return m2m::unexpected<Failure>(Failure{exit, std::move(message), std::move(kind)});
}

}  // namespace gree_ctl
