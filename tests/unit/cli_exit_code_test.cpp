#include <doctest/doctest.h>

#include "cli/cli.hpp"

using namespace m2m;

TEST_CASE("error kinds: the JSON names of decode errors never change") {
  CHECK(to_string(ErrorKind::bad_escape) == "bad_escape");
  CHECK(to_string(ErrorKind::bad_length) == "bad_length");
  CHECK(to_string(ErrorKind::bad_crc) == "bad_crc");
  CHECK(to_string(ErrorKind::too_long) == "too_long");
  CHECK(to_string(ErrorKind::truncated) == "truncated");
  CHECK(to_string(ErrorKind::garbage) == "garbage");
  CHECK(to_string(ErrorKind::bad_value) == "bad_value");
  CHECK(to_string(ErrorKind::bad_hex) == "bad_hex");
  CHECK(to_string(ErrorKind::bad_json) == "bad_json");
  CHECK(to_string(ErrorKind::bad_checksum) == "bad_checksum");
  CHECK(to_string(ErrorKind::io) == "io");
  CHECK(to_string(ErrorKind::timeout) == "timeout");
  CHECK(to_string(ErrorKind::closed) == "closed");
  CHECK(to_string(ErrorKind::unavailable) == "unavailable");
  CHECK(to_string(ErrorKind::refused) == "refused");
  CHECK(to_string(ErrorKind::interrupted) == "interrupted");
}

TEST_CASE("exit codes: one table for every program") {
  CHECK(cli::exit_code(ErrorKind::bad_crc) == 3);
  CHECK(cli::exit_code(ErrorKind::garbage) == 3);
  CHECK(cli::exit_code(ErrorKind::bad_json) == 3);
  CHECK(cli::exit_code(ErrorKind::bad_value) == 3);
  CHECK(cli::exit_code(ErrorKind::io) == 1);
  CHECK(cli::exit_code(ErrorKind::timeout) == 4);
  CHECK(cli::exit_code(ErrorKind::refused) == 5);
  CHECK(cli::exit_code(ErrorKind::closed) == 6);
  CHECK(cli::exit_code(ErrorKind::unavailable) == 6);
  CHECK(cli::exit_code(ErrorKind::interrupted) == 130);
  CHECK(cli::exit_code(Error{ErrorKind::timeout, 0, "login"}) == cli::timed_out);
  CHECK(cli::goal_missed == 7);
}

TEST_CASE("exit codes: SIGINT/SIGTERM is 130, except a server stopped on purpose") {
  CHECK(cli::exit_after_interrupt() == 130);
  CHECK(cli::exit_after_interrupt(cli::OnInterrupt::fail) == cli::interrupted_exit);
  CHECK(cli::exit_after_interrupt(cli::OnInterrupt::server_stop) == cli::ok);
}
