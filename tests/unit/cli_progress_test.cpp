#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/progress.hpp"

using m2m::cli::ProgressLine;

namespace {
// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(c));
  return s;
}
}  // namespace

TEST_CASE("progress: plain lines when not on a terminal") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  {
    ProgressLine p(f);  // a file is not a terminal
    CHECK_FALSE(p.redraws());
    CHECK_FALSE(p.color());
    p.update("logins 10/s");
    p.update("logins 200/s");
  }
  CHECK(contents(f) == "logins 10/s\nlogins 200/s\n");
  std::fclose(f);
}

TEST_CASE("progress: one line redrawn with \\r on a terminal, padded, ended once") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  {
    ProgressLine p(f, true, false);
    p.update("logins 200/s");
    p.update("logins 5/s");  // shorter: spaces wipe the rest of the old line
    p.update("é 1");         // width counts characters, not bytes
    p.finish();
    p.finish();  // once only
  }
  CHECK(contents(f) == "\rlogins 200/s\rlogins 5/s  \ré 1       \n");
  std::fclose(f);
}

TEST_CASE("progress: the destructor ends a redrawn line; nothing for an unused one") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  { ProgressLine unused(f, true, true); }
  CHECK(contents(f).empty());
  { ProgressLine p(f, true, false); p.update("x"); }
  CHECK(contents(f) == "\rx\n");
  std::fclose(f);
}

TEST_CASE("progress: colour only when allowed; NO_COLOR is honoured") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  CHECK(ProgressLine(f, true, true).bold("late 3") == "\x1b[1mlate 3\x1b[0m");
  CHECK(ProgressLine(f, true, false).bold("late 3") == "late 3");
  const char* old = std::getenv("NO_COLOR");
  const std::string saved = old ? old : "";
  ::setenv("NO_COLOR", "1", 1);
  CHECK(m2m::cli::no_color_requested());
  ::setenv("NO_COLOR", "", 1);  // no-color.org: an empty value does not count
  CHECK_FALSE(m2m::cli::no_color_requested());
  ::unsetenv("NO_COLOR");
  CHECK_FALSE(m2m::cli::no_color_requested());
  if (old) ::setenv("NO_COLOR", saved.c_str(), 1);
  std::fclose(f);
}
