#include <doctest/doctest.h>

#include <cstdio>
#include <map>

#include "cli/app.hpp"
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
  // Account ids are decimal, as m2m-server account add/list take and show them; 0x for hex.
  id = cli::check_identity("", "900001", std::nullopt);
  REQUIRE(id);
  CHECK(id->login_id() == 900001u);
  id = cli::check_identity("", "0x10", std::nullopt);
  REQUIRE(id);
  CHECK(id->login_id() == 16u);
  auto hexish = cli::check_identity("", "00000000000DBBA1", std::nullopt);
  REQUIRE_FALSE(hexish);
  CHECK(hexish.error().message.find("decimal number") != std::string::npos);

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

TEST_CASE("session options: the environment fills what the flags leave out; flags win") {
  std::map<std::string, std::string> env{{"M2M_SERVER", "127.0.0.1:9"}, {"M2M_DEVICE", "FED24A"},
                                         {"M2M_ACCOUNT", "7"}, {"M2M_PASSWORD", "text:env"}};
  const cli::EnvLookup lookup = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  cli::SessionArgs a;
  REQUIRE(cli::apply_environment(a, lookup));
  CHECK(a.server == "127.0.0.1:9");
  CHECK(a.device == "FED24A");
  CHECK(a.account == "7");
  CHECK(a.password == "text:env");
  CHECK(a.password_source == "M2M_PASSWORD");

  cli::SessionArgs b;
  b.server = "[::1]:1";
  b.device = "AB";
  b.account = "9";
  b.password = "text:flag";
  REQUIRE(cli::apply_environment(b, lookup));
  CHECK(b.server == "[::1]:1");
  CHECK(b.device == "AB");
  CHECK(b.account == "9");
  CHECK(b.password == "text:flag");
  CHECK(b.password_source == "--password");

  env["M2M_SERVER"] = "";  // empty is unset
  cli::SessionArgs c;
  REQUIRE(cli::apply_environment(c, lookup));
  CHECK(c.server.empty());

  // A bad password from the environment is reported under its source's name.
  auto bad = cli::check_identity("FED24A", "", std::string("nothex"), "M2M_PASSWORD");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.starts_with("M2M_PASSWORD: "));
  bad = cli::check_identity("", "", std::string("text:1"), "M2M_PASSWORD");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "M2M_PASSWORD gives a password, which logs in as --device or --account; give one");
}

TEST_CASE("session options: --password-file reads the first line; it loses to --password, wins over M2M_PASSWORD") {
  const cli::EnvLookup lookup = [](const char* name) -> const char* {
    return std::string_view(name) == "M2M_PASSWORD" ? "text:env" : nullptr;
  };
  const std::string path = "cli_session_options_test.pw";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fputs("text:file\r\nsecond line\n", f);
    std::fclose(f);
  }
  cli::SessionArgs a;
  a.password_file = path;
  REQUIRE(cli::apply_environment(a, lookup));
  CHECK(a.password == "text:file");
  CHECK(a.password_source == "--password-file " + path);

  cli::SessionArgs b;
  b.password_file = path;
  b.password = "text:flag";
  auto r = cli::apply_environment(b, lookup);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "--password and --password-file: give one");

  cli::SessionArgs c;
  c.password_file = path + ".missing";
  r = cli::apply_environment(c, lookup);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "--password-file " + path + ".missing: cannot read it (No such file or directory)");
  std::remove(path.c_str());

  CLI::App app;
  cli::SessionArgs d;
  auto set = cli::add_session_options(app, d, /*with_identity=*/false);
  REQUIRE(set.password_file);
  REQUIRE(parse(app, {"--password-file", "x.pw"}) == 0);
  CHECK(d.password_file == "x.pw");
}
