#include "device/sim_state.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "m2m/frame.hpp"

namespace m2m::device {
namespace {

using nlohmann::json;

json server_json(const ai::ServerAddr& a) {
  return json{{"host", a.host}, {"port", a.port}, {"transport", a.tcp ? "tcp" : "udp"}};
}

ai::ServerAddr server_from(const json& j) {
  ai::ServerAddr a;
  a.host = j.at("host").get<std::string>();
  a.port = j.at("port").get<std::uint16_t>();
  a.tcp = j.value("transport", std::string("tcp")) != "udp";
  return a;
}

json values_json(const ParamValues& v) {
  return json{{"software", v.software},           {"server", server_json(v.server)},
              {"fallback_server", server_json(v.fallback)}, {"dns", ai::format_ipv4(v.dns)},
              {"send_wait", v.send_wait},         {"heartbeat_interval", v.heartbeat_s},
              {"rtc_offset", v.rtc_offset_s},     {"write_timeout", v.write_timeout},
              {"read_timeout", v.read_timeout}};
}

ParamValues values_from(const json& j, const ParamValues& defaults) {
  ParamValues v = defaults;
  if (j.contains("software")) v.software = j["software"].get<std::string>();
  if (j.contains("server")) v.server = server_from(j["server"]);
  if (j.contains("fallback_server")) v.fallback = server_from(j["fallback_server"]);
  if (j.contains("dns")) {
    auto ip = ai::parse_ipv4(j["dns"].get<std::string>());
    if (!ip) throw std::runtime_error("dns: " + ip.error().message);
    v.dns = *ip;
  }
  if (j.contains("send_wait")) v.send_wait = j["send_wait"].get<std::uint8_t>();
  if (j.contains("heartbeat_interval")) v.heartbeat_s = j["heartbeat_interval"].get<std::uint8_t>();
  if (v.heartbeat_s == 0) throw std::runtime_error("heartbeat_interval: 0 is not allowed");
  if (j.contains("rtc_offset")) v.rtc_offset_s = j["rtc_offset"].get<std::int64_t>();
  if (j.contains("write_timeout")) v.write_timeout = j["write_timeout"].get<std::uint8_t>();
  if (j.contains("read_timeout")) v.read_timeout = j["read_timeout"].get<std::uint8_t>();
  return v;
}

}  // namespace

Result<void> load_state(const std::string& file, const ParamValues& defaults,
                        const std::function<void(std::uint64_t, const ParamValues&)>& apply) {
  std::ifstream in(file);
  if (!in) {
    if (errno == ENOENT) return {};  // the first run: nothing saved yet
    return fail(ErrorKind::io, "--state " + file + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    const json j = json::parse(text.str());
    if (j.value("v", 0) != 1) return fail(ErrorKind::bad_value, "--state " + file + ": not a state file of version 1");
    for (const auto& [id_text, values] : j.at("devices").items()) {
      auto id = ai::parse_device(id_text);
      if (!id) return fail(ErrorKind::bad_value, "--state " + file + ": device " + id_text + ": " + id.error().message);
      apply(*id, values_from(values, defaults));
    }
  } catch (const std::exception& e) {
    return fail(ErrorKind::bad_value, "--state " + file + ": " + e.what());
  }
  return {};
}

Result<void> save_state(const std::string& file,
                        const std::function<void(const std::function<void(std::uint64_t, const Params&)>&)>& each) {
  json devices = json::object();
  each([&](std::uint64_t id, const Params& p) {
    if (p.is_own()) devices[ai::format_device(id)] = values_json(p.get());
  });
  const std::string text = json{{"v", 1}, {"devices", devices}}.dump(1) + "\n";
  const std::string tmp = file + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return fail(ErrorKind::io, "--state " + tmp + ": " + std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  const int err = errno;
  std::fclose(f);
  if (!written || std::rename(tmp.c_str(), file.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(ErrorKind::io, "--state " + file + ": " + std::strerror(written ? errno : err));
  }
  return {};
}

}  // namespace m2m::device
