#include <doctest/doctest.h>

#include "m2m/platform.hpp"
#include "m2m_body_test_support.hpp"

using namespace m2m;
using namespace m2m::ai;
using namespace m2m_test;
using nlohmann::json;

TEST_CASE("platform.login bodies") {
  {
    const std::uint8_t cls = 0xEF;
    CHECK(body_of(make(cls, 0, status::request, hex("3132330000000000"))) == json{{"password", "3132330000000000"}});
    CHECK(body_of(make(cls, 0, status::ok, hex("08 1122334455667788"))) == json{{"token", "1122334455667788"}});
    CHECK(body_of(make(cls, 0, status::ok, hex("00"))) == json{{"token", ""}});
    CHECK(body_of(make(cls, 0, status::fail, {})) == json::object());
    CHECK(body_error_of(make(cls, 0, status::request, hex("313233"))).find("8 bytes") != std::string::npos);
    CHECK(body_error_of(make(cls, 0, status::ok, hex("08 1122"))).find("token field") != std::string::npos);
  }
}

TEST_CASE("add_terminal: decoded JSON") {
  CHECK(body_of(make(0xEF, 0x06, status::request, hex("0000000000ABCDEF 3132330000000000"))) ==
        json{{"id", "0000000000ABCDEF"}, {"password", "3132330000000000"}});
}

TEST_CASE("platform.login shares link.login's bodies") {
  PlatformLoginRequest rq{Password{1, 2, 3, 4, 5, 6, 7, 8}};
  Bytes out;
  put_login_request(out, rq);
  CHECK(data_of({{"type", "platform.login"}, {"body", {{"password", "0102030405060708"}}}}) == out);
  CHECK(data_of({{"type", "platform.login"}, {"status", "ok"}, {"body", {{"token", "0A0B"}}}}) == hex("02 0A0B"));
  CHECK(data_of({{"type", "platform.heartbeat"}, {"body", json::object()}}).empty());
}

TEST_CASE("platform.add_terminal: bytes <-> struct <-> JSON") {
  const Bytes d = hex("0000000000ABCDEF 3132330000000000");
  auto b = get_add_terminal(d);
  REQUIRE(b);
  CHECK(b->id == 0xABCDEFu);
  CHECK(b->password == Password{'1', '2', '3'});
  Bytes out;
  put_add_terminal(out, *b);
  CHECK(out == d);
  CHECK(json_of(*b, detail::add_terminal_json) == json{{"id", "0000000000ABCDEF"}, {"password", "3132330000000000"}});
  auto fj = detail::add_terminal_from_json(json{{"id", "ABCDEF"}, {"password", "text:123"}});
  CHECK((fj.id == b->id && fj.password == b->password));
  CHECK(get_add_terminal(hex("0000000000ABCDEF 31")).error().message ==
        "device id and password are 16 bytes, data has 9 bytes");
  Bytes longer = d;
  longer.push_back(0);
  CHECK_FALSE(get_add_terminal(longer));
  CHECK(body_error_of(make(0xEF, 0x06, status::request, longer)).find("16 bytes") != std::string::npos);
  CHECK(error_of({{"type", "platform.add_terminal"}, {"body", {{"id", "01"}}}}).find("body.password: missing") !=
        std::string::npos);
  CHECK(error_of({{"type", "platform.add_terminal"}, {"body", {{"id", "01"}, {"password", "01"}, {"x", 1}}}})
            .find("body.x: unknown field") != std::string::npos);
}
