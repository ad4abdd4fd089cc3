#include <doctest/doctest.h>

#include "cli/session_options.hpp"

using namespace m2m;

namespace {
int parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
}  // namespace

TEST_CASE("session options: declared once, with or without the identity flags") {
  CLI::App app;
  cli::SessionArgs a;
  auto set = cli::add_session_options(app, a, /*with_identity=*/true);
  REQUIRE(set.server);
  CHECK(set.others.size() == 7);  // udp, device, password, account, timeout, heartbeat, bind
  REQUIRE(parse(app, {"--server", "[::1]:9", "-u", "--device", "FED24A", "--password", "text:1", "-t", "2s",
                      "--heartbeat", "500ms", "--bind", "127.0.0.2"}) == 0);
  CHECK(a.server == "[::1]:9");
  CHECK(a.udp);
  CHECK(a.device == "FED24A");
  CHECK(a.password == "text:1");
  CHECK(a.timeout == std::chrono::seconds(2));
  CHECK(a.heartbeat == std::chrono::milliseconds(500));
  CHECK(a.bind == "127.0.0.2");

  CLI::App bare;
  cli::SessionArgs b;
  auto set2 = cli::add_session_options(bare, b, /*with_identity=*/false);
  CHECK(set2.others.size() == 5);
  CHECK(b.timeout == std::chrono::seconds(10));
  CHECK(b.heartbeat == std::chrono::seconds(30));
}

TEST_CASE("session options: the identity is checked, errors name the flag") {
  auto id = cli::check_identity("FED24A", "", std::string("text:123"));
  REQUIRE(id);
  CHECK(id->device == 0xFED24Au);
  CHECK_FALSE(id->account);
  CHECK(id->login_id() == 0xFED24Au);
  CHECK((*id->password)[0] == '1');
  id = cli::check_identity("FED24A", "7", std::nullopt);
  REQUIRE(id);
  CHECK(id->login_id() == 7);
  CHECK_FALSE(id->password);

  auto bad = cli::check_identity("nothex", "", std::nullopt);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.starts_with("--device: "));
  bad = cli::check_identity("", "x y", std::nullopt);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.starts_with("--account: "));
  bad = cli::check_identity("FED24A", "", std::string("0102"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.starts_with("--password: "));
  bad = cli::check_identity("", "", std::string("text:1"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "--password logs in as --device or --account; give one");
}
