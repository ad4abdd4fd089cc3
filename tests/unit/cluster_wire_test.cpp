// What nodes say to each other (cluster/wire.hpp) and the directory they build from it
// (cluster/directory.hpp): exact bytes, round trips, refusal of malformed messages, and who
// holds what through heartbeats, restarts, late logouts and lost nodes.
#include <doctest/doctest.h>

#include "cluster/directory.hpp"
#include "cluster/wire.hpp"

using namespace m2m;
using namespace m2m::cluster;

namespace {
Presence presence(std::uint64_t id, std::uint8_t t = 1, std::uint64_t since = 1000) {
  Presence p;
  p.id = id;
  p.peer.token = {t, 2, 3, 4, 5, 6, 7, 8};
  p.peer.udp_ip = 0x7F000001;
  p.peer.udp_port = 8266;
  p.peer.udp_live = true;
  p.since = since;
  return p;
}
}  // namespace

TEST_CASE("cluster wire: a relay's exact bytes and its round trip") {
  Message m;
  m.op = Op::relay;
  m.node = "n1";
  m.corr = 0x01020304;
  m.id = 0xB2;
  m.data = {0x55, 0x54};
  m.seq = 0x0A0B0C;
  const Bytes b = encode(m);
  const Bytes want = {5, 2, 'n', '1', 0x0C, 0x0B, 0x0A, 0, 0, 0, 0, 0,  // op, node, seq
                      4, 3, 2, 1, 0xB2, 0, 0, 0, 0, 0, 0, 0, 0x55, 0x54};
  CHECK(b == want);
  auto back = decode(b);
  REQUIRE(back);
  CHECK(back->op == Op::relay);
  CHECK(back->node == "n1");
  CHECK(back->seq == 0x0A0B0C);
  CHECK(back->corr == 0x01020304);
  CHECK(back->id == 0xB2);
  CHECK(back->data == Bytes{0x55, 0x54});
}

TEST_CASE("cluster wire: every op round-trips its fields") {
  Message snap;
  snap.op = Op::snapshot;
  snap.node = "node-2";
  snap.flags = kSnapshotReplace | kSnapshotAnswer;
  snap.presences = {presence(1), presence(0xFFFFFFFFFFFFFFFFull, 9, 42)};
  auto s = decode(encode(snap));
  REQUIRE(s);
  CHECK(s->flags == 3);
  REQUIRE(s->presences.size() == 2);
  CHECK(s->presences[1].id == 0xFFFFFFFFFFFFFFFFull);
  CHECK(s->presences[1].peer.token[0] == 9);
  CHECK(s->presences[1].peer.udp_port == 8266);
  CHECK(s->presences[1].since == 42);

  Message reply;
  reply.op = Op::command_reply;
  reply.node = "a";
  reply.corr = 7;
  reply.status = 1;
  reply.refused = "offline";
  reply.data = {1, 2, 3};
  auto r = decode(encode(reply));
  REQUIRE(r);
  CHECK(r->status == 1);
  CHECK(r->refused == "offline");
  CHECK(r->data == Bytes{1, 2, 3});

  Message hb;
  hb.op = Op::heartbeat;
  hb.node = "a";
  hb.instance = 0x1122334455667788ull;
  hb.count = 18000;
  auto h = decode(encode(hb));
  REQUIRE(h);
  CHECK(h->instance == 0x1122334455667788ull);
  CHECK(h->count == 18000);

  Message up;
  up.op = Op::uplink;
  up.node = "a";
  up.id = 5;
  up.cls = 0xAA;
  up.cmd = 0xEE;
  up.data = {'t'};
  auto u = decode(encode(up));
  REQUIRE(u);
  CHECK(u->cls == 0xAA);
  CHECK(u->cmd == 0xEE);
  CHECK(u->data == Bytes{'t'});
}

TEST_CASE("cluster wire: malformed messages are refused, never read past their end") {
  Message m;
  m.op = Op::snapshot;
  m.node = "n1";
  m.presences = {presence(1), presence(2)};
  Bytes b = encode(m);
  for (std::size_t n = 0; n < b.size(); ++n) CHECK_FALSE(decode(ByteView(b.data(), n)));  // every truncation
  Bytes extra = b;
  extra.push_back(0);
  CHECK_FALSE(decode(extra));              // a byte too many
  Bytes lie = b;
  lie[4 + 8 + 1] = 3;                      // the count says 3 presences, 2 follow
  CHECK_FALSE(decode(lie));
  CHECK_FALSE(decode(Bytes{99, 1, 'x'}));  // unknown op
  CHECK_FALSE(decode(Bytes{1, 0}));        // no node name
}

TEST_CASE("cluster wire: two subscriptions' queues merged back into each sender's order") {
  auto msg = [](const char* node, std::uint64_t seq) {
    Message m;
    m.op = Op::down;
    m.node = node;
    m.seq = seq;
    return m;
  };
  auto order = [](const std::vector<Message>& a, const std::vector<Message>& b) {
    std::string s;
    for (const Message* m : in_sender_order(a, b)) s += m->node + std::to_string(m->seq) + " ";
    return s;
  };
  // m2m.all brought p5 then q2; the node's own subject p4 then q3: p4 was published (and
  // arrived) before p5, so it comes first although its queue was read second.
  CHECK(order({msg("p", 5), msg("q", 2)}, {msg("p", 4), msg("q", 3)}) == "p4 p5 q2 q3 ");
  // Nothing to wait for: the first queue, then the second.
  CHECK(order({msg("p", 1), msg("p", 2)}, {msg("q", 9)}) == "p1 p2 q9 ");
  CHECK(order({}, {msg("q", 2), msg("q", 1)}) == "q2 q1 ");  // one queue: as it came
  // Interleaved senders: p keeps 2 3 6 8 and r 5 7, whichever queue their messages were in,
  // and each queue's own order holds (p2 r7 p6; r5 p3 p8).
  const std::string got = order({msg("p", 2), msg("r", 7), msg("p", 6)}, {msg("r", 5), msg("p", 3), msg("p", 8)});
  CHECK(got == "p2 r5 r7 p3 p6 p8 ");
}

TEST_CASE("cluster wire: node names are subject tokens") {
  CHECK(valid_node_name("n1"));
  CHECK(valid_node_name("host-42_b"));
  CHECK_FALSE(valid_node_name(""));
  CHECK_FALSE(valid_node_name("a.b"));  // would split the subject
  CHECK_FALSE(valid_node_name("a*"));
  CHECK_FALSE(valid_node_name("a>"));
  CHECK_FALSE(valid_node_name(std::string(65, 'x')));
  CHECK(node_subject("n1") == "m2m.node.n1");
}

TEST_CASE("cluster directory: presence, late logouts, restarts and lost nodes") {
  Directory dir;
  CHECK(dir.heartbeat("n1", 11, 0) == Directory::Seen::joined);
  CHECK(dir.heartbeat("n1", 11, 100) == Directory::Seen::known);
  const std::uint16_t n1 = dir.node("n1", 100);
  const std::uint16_t n2 = dir.node("n2", 100);  // heard of before its heartbeat
  CHECK(dir.heartbeat("n2", 22, 100) == Directory::Seen::joined);
  dir.up(n1, presence(0xA1, 1));
  dir.up(n1, presence(0xB2, 2));
  REQUIRE(dir.find(0xA1));
  CHECK(dir.find(0xA1)->node == n1);
  CHECK(dir.find(0xA1)->peer.token[0] == 1);

  // A1 moves to n2 (a later login); n1's late logout of it does not remove n2's entry, and a
  // stale snapshot of n1 (the older login) does not take it back.
  dir.up(n2, presence(0xA1, 3, 2000));
  dir.up(n1, presence(0xA1, 1, 1000));
  CHECK(dir.find(0xA1)->node == n2);
  CHECK(dir.find(0xA1)->peer.token[0] == 3);
  dir.up(n2, presence(0xA1, 3, 2000));  // the same login, a new endpoint: always taken
  dir.down(n1, 0xA1);
  REQUIRE(dir.find(0xA1));
  CHECK(dir.find(0xA1)->node == n2);
  dir.down(n2, 0xA1);
  CHECK_FALSE(dir.find(0xA1));

  // n1 restarts (a new instance): what the old one held is gone.
  CHECK(dir.heartbeat("n1", 12, 200) == Directory::Seen::restarted);
  CHECK_FALSE(dir.find(0xB2));
  CHECK(dir.size() == 0);

  // n1 goes silent: lost after the timeout, with its devices; n2 keeps talking.
  dir.up(n1, presence(0xC3));
  dir.up(n2, presence(0xD4));
  CHECK(dir.expire(700, 600).empty());
  dir.heartbeat("n2", 22, 750);
  const auto lost = dir.expire(801, 600);
  REQUIRE(lost.size() == 1);
  CHECK(lost[0] == n1);
  CHECK_FALSE(dir.find(0xC3));
  CHECK(dir.find(0xD4));
  CHECK(dir.alive_nodes() == 1);
  // Back: joined again (the caller exchanges snapshots).
  CHECK(dir.heartbeat("n1", 12, 900) == Directory::Seen::joined);
  // A node never heard from with a heartbeat is not alive, but what it announced still expires.
  const std::uint16_t n3 = dir.node("n3", 900);
  dir.up(n3, presence(0xE5));
  CHECK(dir.expire(1000, 600).empty());
  CHECK(dir.find(0xE5));
  CHECK(dir.expire(1501, 600).size() == 2);  // n1 and n2 (n3 was never alive) ...
  CHECK_FALSE(dir.find(0xE5));               // ... and what n3 announced went with its silence
}
