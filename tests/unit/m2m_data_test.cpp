#include <doctest/doctest.h>

#include "m2m/data.hpp"
#include "m2m_body_test_support.hpp"

using namespace m2m;
using namespace m2m::ai;
using namespace m2m_test;
using nlohmann::json;

TEST_CASE("group_list: start index and paged record lists") {
  CHECK(body_of(make(0xAA, 0x00, status::request, {})) == json::object());
  CHECK(body_of(make(0xAA, 0x00, status::request, hex("3B00"))) == json{{"start", 59}});
  CHECK(body_of(make(0xAA, 0x00, status::ok, {})) == json{{"devices", json::array()}});
  Bytes page;
  for (int i = 0; i < 59; ++i) put_peer_record(page, {std::uint64_t(0x1000 + i), hex("0102030405060708"), i ? 0x7F000001u : 0u, std::uint16_t(i * 100)});
  json b = body_of(make(0xAA, 0x00, status::ok, page));
  REQUIRE(b["devices"].size() == 59);
  CHECK(b["devices"][0] == json{{"id", "0000000000001000"}, {"token", "0102030405060708"}, {"ip", "0.0.0.0"}, {"port", 0}});
  CHECK(b["devices"][58]["port"] == 5800);
  page.pop_back();
  CHECK(body_error_of(make(0xAA, 0x00, status::ok, page)).find("record 58") != std::string::npos);
}

TEST_CASE("relay, p2p_send, uplink, downlink") {
  CHECK(body_of(make(0xAA, 0x55, status::request, hex("0000000000ABCDEF 48656C6C6F"))) ==
        json{{"peer", "0000000000ABCDEF"}, {"payload", "48656C6C6F"}});
  CHECK(body_of(make(0xAA, 0x55, status::request, hex("0000000000ABCDEF"))) ==
        json{{"peer", "0000000000ABCDEF"}, {"payload", ""}});
  body_error_of(make(0xAA, 0x55, status::request, hex("0000ABCDEF")));
  CHECK(body_of(make(0xAA, 0x66, status::request, hex("0000000000ABCDEF 55 54"))) ==
        json{{"sender", "0000000000ABCDEF"}, {"payload", "5554"}});
  CHECK(body_of(make(0xAA, 0xEE, status::request, hex("5555"))) == json{{"payload", "5555"}});
  CHECK(body_of(make(0xAA, 0xFF, status::request, {})) == json{{"payload", ""}});
}

TEST_CASE("data.group_list: bytes <-> struct <-> JSON") {
  auto none = get_group_list_request({});
  REQUIRE(none);
  CHECK_FALSE(none->start);
  auto rq = get_group_list_request(hex("3B00"));
  REQUIRE(rq);
  CHECK(rq->start == 59);
  Bytes out;
  put_group_list_request(out, *rq);
  CHECK(out == hex("3B00"));
  Bytes empty;
  put_group_list_request(empty, *none);
  CHECK(empty.empty());
  CHECK(json_of(*rq, detail::group_list_request_json) == json{{"start", 59}});
  CHECK(detail::group_list_request_from_json(json{{"start", "0x10"}}).start == 16);
  CHECK(get_group_list_request(hex("3B")).error().message == "start index is 2 bytes, data has 1 byte");
  CHECK_FALSE(get_group_list_request(hex("3B0000")));

  const Bytes page = hex("0000000000000001 01 AA 7F000001 1F90  0000000000000002 00 00000000 0000");
  auto rp = get_group_list_reply(page);
  REQUIRE(rp);
  REQUIRE(rp->devices.size() == 2);
  CHECK(rp->devices[1].token.empty());
  Bytes back;
  put_group_list_reply(back, *rp);
  CHECK(back == page);
  CHECK(json_of(*rp, detail::group_list_reply_json) ==
        json{{"devices", {{{"id", "0000000000000001"}, {"token", "AA"}, {"ip", "127.0.0.1"}, {"port", 8080}},
                          {{"id", "0000000000000002"}, {"token", ""}, {"ip", "0.0.0.0"}, {"port", 0}}}}});
  CHECK(detail::group_list_reply_from_json(json{{"devices", json::array()}}).devices.empty());
  CHECK(get_group_list_reply(Bytes(page.begin(), page.end() - 1)).error().message.starts_with("record 1: "));
  CHECK(error_of({{"type", "data.group_list"}, {"status", "ok"}, {"body", {{"devices", 1}}}}).find("body.devices:") !=
        std::string::npos);
}

TEST_CASE("data.relay, p2p_send, uplink, downlink: bytes <-> struct <-> JSON") {
  const Bytes d = hex("0000000000ABCDEF 48656C6C6F");
  auto r = get_relay(d);
  REQUIRE(r);
  CHECK(r->peer == 0xABCDEFu);
  CHECK(r->payload.data() == d.data() + 8);  // a view: the decode path copies no payload
  Bytes out;
  put_relay(out, *r);
  CHECK(out == d);
  CHECK(json_of(*r, detail::relay_json) == json{{"peer", "0000000000ABCDEF"}, {"payload", "48656C6C6F"}});
  Bytes store;
  for (auto alias : {"peer", "target", "sender"}) {
    auto fj = detail::relay_from_json(json{{alias, "ABCDEF"}, {"text", "Hello"}}, store);
    Bytes again;
    put_relay(again, fj);
    CHECK(again == d);
  }
  CHECK(get_relay(hex("0000ABCDEF")).error().message == "device id is 8 bytes, data has 5 bytes");

  auto p = get_p2p_send(d);
  REQUIRE(p);
  CHECK(p->sender == 0xABCDEFu);
  Bytes po;
  put_p2p_send(po, *p);
  CHECK(po == d);
  CHECK(json_of(*p, detail::p2p_send_json) == json{{"sender", "0000000000ABCDEF"}, {"payload", "48656C6C6F"}});
  CHECK(error_of({{"type", "data.p2p_send"}, {"body", {{"sender", "01"}, {"peer", "02"}, {"payload", ""}}}}).find(
            "body.peer: data.p2p_send takes sender") != std::string::npos);
  CHECK(error_of({{"type", "data.p2p_send"}, {"body", {{"payload", ""}}}}).find("body.sender: missing") !=
        std::string::npos);
  CHECK_FALSE(get_p2p_send(hex("01")));

  const Bytes raw = hex("5554 55");
  Payload u = get_payload(raw);
  Bytes uo;
  put_payload(uo, u);
  CHECK(uo == raw);
  CHECK(json_of(u, detail::payload_json) == json{{"payload", "555455"}});
  const ByteView pj = detail::payload_from_json(json{{"payload", "55 54 55"}}, store).payload;
  CHECK(Bytes(pj.begin(), pj.end()) == raw);
  CHECK(error_of({{"type", "data.uplink"}, {"body", {{"payload", "01"}, {"text", "a"}}}}).find("not both") !=
        std::string::npos);
  CHECK(error_of({{"type", "data.downlink"}, {"body", json::object()}}).find("body.payload: missing") !=
        std::string::npos);
}
