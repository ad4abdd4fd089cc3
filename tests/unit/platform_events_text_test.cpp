// m2m-server --format text: the same fields as the JSON line, readable.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "platform/events.hpp"

using m2m::platform::EventFormat;
using m2m::platform::EventLog;

TEST_CASE("event log: text format keeps every field, quotes only what needs it") {
  std::vector<std::string> lines;
  EventLog log(false, [&](const std::string& l) { lines.push_back(l); });
  EventLog::Line line("route_refused");
  line.add("device", "0000000000FED24A").add("reason", "no_firmware").add("message", "No such file: \"a b\"").add("n", 3);
  log.write(line);
  log.set_format(EventFormat::text);
  log.write(line);
  REQUIRE(lines.size() == 2);
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["event"] == "route_refused");
  const std::string ts = j["ts"];
  CHECK(lines[1] == ts + " route_refused device=0000000000FED24A reason=no_firmware message=\"No such file: \\\"a b\\\"\" n=3");
  EventLog::Line odd("x");
  odd.add("empty", "").add("nested", nlohmann::json{{"a", 1}}).add("eq", "k=v");
  const std::string r = odd.readable();
  CHECK(r.substr(r.find(' ')) == " x empty=\"\" nested={\"a\":1} eq=\"k=v\"");
}
