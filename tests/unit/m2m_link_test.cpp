#include <doctest/doctest.h>

#include <array>

#include "m2m/link.hpp"
#include "m2m_body_test_support.hpp"

using namespace m2m;
using namespace m2m::ai;
using namespace m2m_test;
using nlohmann::json;

TEST_CASE("link.login bodies") {
  {
    const std::uint8_t cls = 0xA0;
    CHECK(body_of(make(cls, 0, status::request, hex("3132330000000000"))) == json{{"password", "3132330000000000"}});
    CHECK(body_of(make(cls, 0, status::ok, hex("08 1122334455667788"))) == json{{"token", "1122334455667788"}});
    CHECK(body_of(make(cls, 0, status::ok, hex("00"))) == json{{"token", ""}});
    CHECK(body_of(make(cls, 0, status::fail, {})) == json::object());
    CHECK(body_error_of(make(cls, 0, status::request, hex("313233"))).find("8 bytes") != std::string::npos);
    CHECK(body_error_of(make(cls, 0, status::ok, hex("08 1122"))).find("token field") != std::string::npos);
  }
}

TEST_CASE("p2p request, reply and the platform's introduction") {
  CHECK(body_of(make(0xA0, 0x55, status::request, hex("0000000000ABCDEF"))) == json{{"target", "0000000000ABCDEF"}});
  Bytes record = hex("0000000000ABCDEF 08 1122334455667788 C0A80102 1F90");
  json want = {{"id", "0000000000ABCDEF"}, {"token", "1122334455667788"}, {"ip", "192.168.1.2"}, {"port", 8080}};
  CHECK(body_of(make(0xA0, 0x55, status::ok, record)) == want);
  CHECK(body_of(make(0xA0, 0x55, status::request, record)) == want);  // introduction
  CHECK(body_of(make(0xA0, 0x55, status::fail, {})) == json::object());
  Bytes longer = record;
  longer.push_back(0);
  body_error_of(make(0xA0, 0x55, status::ok, longer));
  body_error_of(make(0xA0, 0x55, status::request, hex("0000000000ABCDEF 08 11")));
  CHECK(body_of(make(0xA0, 0xEE, status::request, hex("0000000000ABCDEF"))) == json{{"sender", "0000000000ABCDEF"}});
  CHECK(body_of(make(0xA0, 0xEE, status::ok, hex("0000000000ABCDEF"))) == json{{"sender", "0000000000ABCDEF"}});
}

TEST_CASE("link.login: bytes <-> struct <-> JSON") {
  auto rq = get_login_request(hex("0102030405060708"));
  REQUIRE(rq);
  CHECK(rq->password == Password{1, 2, 3, 4, 5, 6, 7, 8});
  Bytes out;
  put_login_request(out, *rq);
  CHECK(out == hex("0102030405060708"));
  CHECK(json_of(*rq, detail::login_request_json) == json{{"password", "0102030405060708"}});
  CHECK(detail::login_request_from_json(json{{"password", "text:123"}}).password == Password{'1', '2', '3'});
  CHECK(get_login_request(hex("01020304050607")).error().message == "password is 8 bytes, data has 7 bytes");
  CHECK_FALSE(get_login_request(hex("010203040506070809")));

  const Bytes d = hex("08 1122334455667788");
  auto rp = get_login_reply(d);
  REQUIRE(rp);
  CHECK(Bytes(rp->token.begin(), rp->token.end()) == hex("1122334455667788"));
  CHECK(rp->token.data() == d.data() + 1);  // a view into the data area: no copy
  Bytes again;
  REQUIRE(put_login_reply(again, *rp));
  CHECK(again == d);
  CHECK(json_of(*rp, detail::login_reply_json) == json{{"token", "1122334455667788"}});
  Bytes store;
  auto fj = detail::login_reply_from_json(json{{"token", "AABB"}}, store);
  CHECK(Bytes(fj.token.begin(), fj.token.end()) == hex("AABB"));
  CHECK(get_login_reply(hex("00"))->token.empty());
  CHECK(get_login_reply(hex("08 1122")).error().message == "token field says 8 bytes, 2 bytes follow");
  CHECK(get_login_reply(hex("01 11 22")).error().message == "token field says 1 byte, 2 bytes follow");
  CHECK_FALSE(get_login_reply({}));
  Bytes big(256, 0xAB);
  Bytes none;
  CHECK_FALSE(put_login_reply(none, LoginReply{big}));
  CHECK(none.empty());
}

TEST_CASE("link.heartbeat: no data") {
  CHECK(get_heartbeat({}));
  CHECK(get_heartbeat(hex("00")).error().message == "this request has no data, got 1 byte");
  CHECK(data_of({{"type", "link.heartbeat"}, {"body", json::object()}}).empty());
  CHECK_FALSE(frame_from_json({{"type", "link.heartbeat"}, {"body", {{"x", 1}}}}));
}

TEST_CASE("link.p2p_request and p2p_confirm: bytes <-> struct <-> JSON") {
  const Bytes id = hex("0000000000ABCDEF");
  auto rq = get_p2p_request(id);
  REQUIRE(rq);
  CHECK(rq->target == 0xABCDEFu);
  Bytes out;
  put_p2p_request(out, *rq);
  CHECK(out == id);
  CHECK(json_of(*rq, detail::p2p_request_json) == json{{"target", "0000000000ABCDEF"}});
  CHECK(detail::p2p_request_from_json(json{{"target", "ABCDEF"}}).target == 0xABCDEFu);
  CHECK(get_p2p_request(hex("0000ABCDEF")).error().message == "device id is 8 bytes, data has 5 bytes");
  CHECK_FALSE(get_p2p_request(hex("0000000000ABCDEF 00")));

  const Bytes record = hex("0000000000ABCDEF 08 1122334455667788 C0A80102 1F90");
  auto peer = get_p2p_peer(record);
  REQUIRE(peer);
  CHECK((peer->id == 0xABCDEFu && peer->ip == 0xC0A80102u && peer->port == 8080));
  Bytes back;
  put_p2p_peer(back, *peer);
  CHECK(back == record);
  Bytes longer = record;
  longer.push_back(0);
  CHECK(get_p2p_peer(longer).error().message == "1 byte left over after the peer record");

  auto cf = get_p2p_confirm(id);
  REQUIRE(cf);
  CHECK(cf->sender == 0xABCDEFu);
  Bytes c;
  put_p2p_confirm(c, *cf);
  CHECK(c == id);
  CHECK(json_of(*cf, detail::p2p_confirm_json) == json{{"sender", "0000000000ABCDEF"}});
  CHECK(detail::p2p_confirm_from_json(json{{"sender", "0xABCDEF"}}).sender == 0xABCDEFu);
  CHECK_FALSE(get_p2p_confirm({}));
  CHECK(data_of({{"type", "link.p2p_request"}, {"body", {{"id", "01"}, {"token", "AA"}, {"ip", "1.2.3.4"}, {"port", 5}}}}) ==
        hex("0000000000000001 01 AA 01020304 0005"));
}

TEST_CASE("link.p2p_request: the platform builds its ok reply and introduction from a record") {
  // m2m-protocol(7), COMMANDS: id (8) + token field + IPv4 (4, BE) + UDP port (2, BE).
  PeerRecord r;
  r.id = 0x0000001122334455u;
  r.token = hex("A1A2A3A4A5A6A7A8");
  r.ip = 0x7F000001u;
  r.port = 40000;
  Bytes out;
  put_p2p_peer(out, r);
  CHECK(out == hex("0000001122334455 08 A1A2A3A4A5A6A7A8 7F000001 9C40"));
  CHECK(out.size() == 23);
  PeerRecord unknown;  // no UDP endpoint known: 0.0.0.0:0
  unknown.id = 7;
  unknown.token = hex("0102030405060708");
  Bytes u;
  put_p2p_peer(u, unknown);
  CHECK(u == hex("0000000000000007 08 0102030405060708 00000000 0000"));
  auto back = get_p2p_peer(u);
  REQUIRE(back);
  CHECK((back->id == 7 && back->ip == 0 && back->port == 0 && back->token == unknown.token));
}

TEST_CASE("link.login: the ok reply the platform builds from an 8-byte token") {
  const std::array<std::uint8_t, 8> token{0x10, 0x20, 0x30, 0x40, 0x54, 0x55, 0x60, 0x70};
  Bytes out;
  REQUIRE(put_login_reply(out, LoginReply{ByteView(token)}));
  CHECK(out == hex("08 1020304054556070"));  // token field: L = 8, then the token (unescaped here)
  auto back = get_login_reply(out);
  REQUIRE(back);
  CHECK(Bytes(back->token.begin(), back->token.end()) == Bytes(token.begin(), token.end()));
}
