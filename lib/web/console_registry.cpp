// The console's changes to the registry: devices, accounts, groups, regions, associations,
// imports, console users' roles — and the online statistics. Every change runs on the worker
// in one transaction of the registry file, is written to the event log with the console user,
// and reaches the live registry through the server's follower within a second, exactly as a
// `m2m-server device …` command run beside the server would.
#include <algorithm>
#include <map>
#include <unordered_map>
#include <ctime>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/expected.hpp"
#include "m2m/frame.hpp"
#include "platform/csv.hpp"
#include "platform/events.hpp"
#include "web/console.hpp"
#include "web/xlsx.hpp"

namespace m2m::web {

namespace {
using nlohmann::json;
using platform::EventLog;
using platform::RecordStore;

// An answer other than 200 from a change: the HTTP status rides in Error::offset.
Error http_error(unsigned status, std::string message) {
  return Error{status == 400 ? ErrorKind::bad_value : ErrorKind::refused, status, std::move(message)};
}
unsigned status_of(const Error& e) {
  if (e.offset >= 400 && e.offset < 600) return static_cast<unsigned>(e.offset);
  if (e.kind == ErrorKind::bad_value) return 400;
  if (e.kind == ErrorKind::refused) return 409;
  return 503;
}
const char* code_of(unsigned status) {
  switch (status) {
    case 400: return "bad_request";
    case 404: return "unknown";
    case 409: return "conflict";
    default: return "registry";
  }
}

std::optional<std::int64_t> opt_int(const json& j) {
  if (j.is_number_integer()) return j.get<std::int64_t>();
  return std::nullopt;
}

// {"region": id | name | null} -> the region's id; a name must match exactly one region.
Result<std::optional<std::int64_t>> region_ref(const ConsoleMeta& meta, const json& v) {
  if (v.is_null()) return std::optional<std::int64_t>{};
  if (v.is_number_integer()) {
    if (!meta.region(v.get<std::int64_t>())) return unexpected(http_error(400, "no region " + v.dump()));
    return std::optional<std::int64_t>{v.get<std::int64_t>()};
  }
  if (v.is_string()) {
    const std::string name = v.get<std::string>();
    if (name.empty()) return std::optional<std::int64_t>{};
    std::optional<std::int64_t> found;
    for (const auto& r : meta.regions)
      if (r.name == name || std::to_string(r.id) == name) {
        if (found && r.name == name) return unexpected(http_error(400, "region name '" + name + "' is not unique: use its id"));
        found = r.id;
      }
    if (!found) return unexpected(http_error(400, "no region '" + name + "' (create it under Regions first)"));
    return found;
  }
  return unexpected(http_error(400, "region: an id, a name or null"));
}

Result<void> check_category(const std::string& c) {
  if (c.size() > 64) return unexpected(http_error(400, "category: at most 64 characters"));
  return {};
}

Result<void> check_description(const std::string& d) {
  if (d.size() > 256) return unexpected(http_error(400, "description: at most 256 characters"));
  return {};
}

// The import's columns: the CLI's device export header, then two optional console columns.
constexpr std::string_view kImportColumns[] = {"id", "password", "group", "enabled", "description", "region", "category"};

struct ImportRow {
  std::uint32_t row = 0;
  platform::DeviceRecord rec;
  std::optional<std::int64_t> region;
  std::string region_text, category;
  std::string error;
  bool exists = false;
};

// Rows of an uploaded .xlsx or .csv (its header row first).
Result<std::vector<std::pair<std::uint32_t, std::vector<std::string>>>> table_rows(const Exchange& ex) {
  std::vector<std::pair<std::uint32_t, std::vector<std::string>>> out;
  const std::string& body = ex.body();
  const bool zip = body.size() >= 4 && body.compare(0, 4, "PK\x03\x04") == 0;
  if (zip || ex.header("Content-Type").find("spreadsheetml") != std::string::npos) {
    auto rows = read_xlsx(ByteView(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
    if (!rows) return unexpected(http_error(400, rows.error().message));
    for (auto& r : *rows) out.emplace_back(r.number, std::move(r.cells));
    return out;
  }
  std::istringstream in(body);
  platform::CsvReader reader(in);
  std::vector<std::string> fields;
  for (;;) {
    auto more = reader.next(fields);
    if (!more) return unexpected(http_error(400, "line " + std::to_string(more.error().offset) + ": " + more.error().message));
    if (!*more) break;
    if (fields.size() == 1 && fields[0].empty()) continue;
    out.emplace_back(static_cast<std::uint32_t>(reader.record_line()), fields);
  }
  return out;
}
}  // namespace

void Console::change(const ExchangePtr& ex, const Session& s, std::string action, Change fn, unsigned ok_status) {
  const std::string db = opt_.db, user = s.user;
  const bool posted = worker_->post([this, ex, db, user, action, fn = std::move(fn), ok_status]() -> Worker::Then {
    Result<json> result = unexpected(Error{ErrorKind::io, 0, ""});
    std::optional<ConsoleMeta> meta;
    auto store = platform::Store::open(db, platform::Database::Access::read_write);
    if (!store) {
      result = unexpected(store.error());
    } else if (auto t = create_meta_tables(store->db()); !t) {
      result = unexpected(t.error());
    } else if (auto b = store->begin(); !b) {
      result = unexpected(b.error());
    } else {
      result = fn(*store);
      if (result) {
        if (auto c = store->commit(); !c) result = unexpected(c.error());
      }
      if (result)
        if (auto m = load_meta(store->db())) meta = std::move(*m);
    }
    return [this, ex, user, action, result = std::move(result), meta = std::move(meta), ok_status]() mutable {
      if (meta) meta_ = std::move(*meta);
      if (!result) {
        const unsigned st = status_of(result.error());
        return error(ex, st, code_of(st), result.error().message);
      }
      EventLog::Line line("console_change");
      line.add("user", user).add("action", action);
      for (auto it = result->begin(); it != result->end(); ++it)
        if (!it.value().is_array() && !it.value().is_object()) line.add(it.key(), it.value());
      server_.log().write(line);
      send_json(ex, ok_status, *result);
    };
  });
  if (!posted) error(ex, 503, "busy", "the console is busy: try again in a second");
}

// POST /api/devices {id, password, group, enabled, description, region, category}
void Console::add_device(const ExchangePtr& ex, const Session& s) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object() || !b.value("id", json()).is_string() || !b.value("password", json()).is_string())
    return error(ex, 400, "bad_request", R"(expected {"id": "...", "password": "16 hex digits or text:...", ...})");
  platform::DeviceRecord d;
  auto id = ai::parse_device(b["id"].get<std::string>());
  if (!id) return error(ex, 400, "bad_device", "id: " + id.error().message);
  auto pw = ai::parse_password(b["password"].get<std::string>());
  if (!pw) return error(ex, 400, "bad_password", "password: " + pw.error().message);
  d.id = *id;
  d.password = *pw;
  d.group = b.value("group", std::string(platform::kDefaultGroup));
  if (d.group.empty()) d.group = platform::kDefaultGroup;
  if (auto r = platform::check_group_name(d.group); !r) return error(ex, 400, "bad_group", r.error().message);
  d.enabled = b.value("enabled", true);
  d.description = b.value("description", "");
  DeviceMeta m;
  m.category = b.value("category", "");
  auto region = region_ref(meta_, b.value("region", json()));
  if (!region) return error(ex, 400, "bad_region", region.error().message);
  m.region = *region;
  if (auto r = check_category(m.category); !r) return error(ex, 400, "bad_category", r.error().message);
  if (auto r = check_description(d.description); !r) return error(ex, 400, "bad_description", r.error().message);
  change(ex, s, "device_add", [d, m](platform::Store& st) -> Result<json> {
    if (auto r = st.put_device(d, RecordStore::Mode::insert); !r)
      return unexpected(http_error(409, "device " + ai::format_device(d.id) + " exists"));
    if (auto r = set_device_meta(st.db(), d.id, m); !r) return unexpected(r.error());
    return json{{"device", ai::format_device(d.id)}, {"group", d.group}, {"enabled", d.enabled}};
  }, 201);
}

// PATCH /api/devices/ID {password?, group?, enabled?, description?, region?, category?}
void Console::edit_device(const ExchangePtr& ex, const Session& s, std::uint64_t id) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object()) return error(ex, 400, "bad_request", "expected a JSON object of the fields to change");
  std::optional<ai::Password> password;
  if (b.contains("password")) {
    auto pw = b["password"].is_string() ? ai::parse_password(b["password"].get<std::string>())
                                         : Result<ai::Password>(unexpected(Error{ErrorKind::bad_value, 0, "a string"}));
    if (!pw) return error(ex, 400, "bad_password", "password: " + pw.error().message);
    password = *pw;
  }
  std::optional<std::string> group, description, category;
  std::optional<bool> enabled;
  std::optional<std::optional<std::int64_t>> region;
  if (b.contains("group")) {
    if (!b["group"].is_string()) return error(ex, 400, "bad_group", "group: a name");
    group = b["group"].get<std::string>();
    if (auto r = platform::check_group_name(*group); !r) return error(ex, 400, "bad_group", r.error().message);
  }
  if (b.contains("enabled")) {
    if (!b["enabled"].is_boolean()) return error(ex, 400, "bad_enabled", "enabled: true or false");
    enabled = b["enabled"].get<bool>();
  }
  if (b.contains("description")) {
    if (!b["description"].is_string()) return error(ex, 400, "bad_description", "description: text");
    description = b["description"].get<std::string>();
    if (auto r = check_description(*description); !r) return error(ex, 400, "bad_description", r.error().message);
  }
  if (b.contains("category")) {
    if (!b["category"].is_string()) return error(ex, 400, "bad_category", "category: text");
    category = b["category"].get<std::string>();
    if (auto r = check_category(*category); !r) return error(ex, 400, "bad_category", r.error().message);
  }
  if (b.contains("region")) {
    auto r = region_ref(meta_, b["region"]);
    if (!r) return error(ex, 400, "bad_region", r.error().message);
    region = *r;
  }
  DeviceMeta old_meta;
  if (auto it = meta_.devices.find(id); it != meta_.devices.end()) old_meta = it->second;
  change(ex, s, "device_edit",
         [id, password, group, enabled, description, category, region, old_meta](platform::Store& st) -> Result<json> {
           auto found = find_device_record(st.db(), id);
           if (!found) return unexpected(found.error());
           if (!*found) return unexpected(http_error(404, "no device " + ai::format_device(id)));
           platform::DeviceRecord d = **found;
           if (password) d.password = *password;
           if (group) d.group = *group;
           if (enabled) d.enabled = *enabled;
           if (description) d.description = *description;
           if (auto r = st.put_device(d, RecordStore::Mode::upsert); !r) return unexpected(r.error());
           DeviceMeta m = old_meta;
           if (category) m.category = *category;
           if (region) m.region = *region;
           if (auto r = set_device_meta(st.db(), id, m); !r) return unexpected(r.error());
           json out{{"device", ai::format_device(id)}, {"group", d.group}, {"enabled", d.enabled}};
           if (password) out["password_changed"] = true;
           return out;
         });
}

void Console::remove_device(const ExchangePtr& ex, const Session& s, std::uint64_t id) {
  change(ex, s, "device_remove", [id](platform::Store& st) -> Result<json> {
    auto r = st.remove_device(id);
    if (!r) return unexpected(r.error());
    if (!*r) return unexpected(http_error(404, "no device " + ai::format_device(id)));
    if (auto m = remove_device_meta(st.db(), id); !m) return unexpected(m.error());
    return json{{"device", ai::format_device(id)}};
  });
}

// POST /api/devices/ID/associations {"device": ID2}; DELETE /api/devices/ID/associations/ID2
void Console::link(const ExchangePtr& ex, const Session& s, std::uint64_t id, std::optional<std::uint64_t> other) {
  if (!other) {
    json b = json::parse(ex->body(), nullptr, false);
    if (!b.is_object() || !b.value("device", json()).is_string())
      return error(ex, 400, "bad_request", R"(expected {"device": "ID"})");
    auto o = ai::parse_device(b["device"].get<std::string>());
    if (!o) return error(ex, 400, "bad_device", "device: " + o.error().message);
    const std::uint64_t b_id = *o;
    return change(ex, s, "device_associate", [id, b_id](platform::Store& st) -> Result<json> {
      for (std::uint64_t x : {id, b_id}) {
        auto f = find_device_record(st.db(), x);
        if (!f) return unexpected(f.error());
        if (!*f) return unexpected(http_error(404, "no device " + ai::format_device(x)));
      }
      if (auto r = associate(st.db(), id, b_id); !r) return unexpected(http_error(409, r.error().message));
      return json{{"device", ai::format_device(id)}, {"associated", ai::format_device(b_id)}};
    }, 201);
  }
  const std::uint64_t b_id = *other;
  change(ex, s, "device_dissociate", [id, b_id](platform::Store& st) -> Result<json> {
    auto r = dissociate(st.db(), id, b_id);
    if (!r) return unexpected(r.error());
    if (!*r)
      return unexpected(http_error(404, ai::format_device(id) + " and " + ai::format_device(b_id) + " are not associated"));
    return json{{"device", ai::format_device(id)}, {"dissociated", ai::format_device(b_id)}};
  });
}

// POST /api/import?commit=0|1 with the file as the body (.xlsx or .csv; a header row naming
// the columns id,password,group,enabled,description[,region,category] in any order). commit=0
// answers the preview: every row, parsed, with its error; commit=1 imports all rows in one
// transaction, or none when any row has an error.
void Console::import(const ExchangePtr& ex, const Session& s) {
  const bool commit = ex->query("commit") == "1";
  auto table = table_rows(*ex);
  if (!table) return error(ex, status_of(table.error()), "bad_file", table.error().message);
  if (table->empty()) return error(ex, 400, "bad_file", "the file is empty: expected a header row id,password,group,...");
  // The header: which column is which.
  int col[std::size(kImportColumns)];
  std::fill(std::begin(col), std::end(col), -1);
  const auto& header = table->front().second;
  for (std::size_t c = 0; c < header.size(); ++c) {
    std::string h = header[c];
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char x) { return std::tolower(x); });
    while (!h.empty() && h.back() == ' ') h.pop_back();
    bool known = false;
    for (std::size_t k = 0; k < std::size(kImportColumns); ++k)
      if (h == kImportColumns[k]) col[k] = static_cast<int>(c), known = true;
    if (!known && !h.empty())
      return error(ex, 400, "bad_header",
                   "row " + std::to_string(table->front().first) + ": unknown column '" + header[c].substr(0, 40) +
                       "' (columns: id,password,group,enabled,description,region,category)");
  }
  if (col[0] < 0 || col[1] < 0)
    return error(ex, 400, "bad_header",
                 "row " + std::to_string(table->front().first) +
                     ": the header row must name at least the columns id and password (then group, enabled, "
                     "description, region, category)");
  if (table->size() - 1 > 100000) return error(ex, 413, "too_many_rows", "at most 100000 devices per import");
  std::vector<ImportRow> rows;
  std::unordered_map<std::uint64_t, std::uint32_t> first_row;
  for (std::size_t i = 1; i < table->size(); ++i) {
    const std::uint32_t number = (*table)[i].first;
    const std::vector<std::string>& cells = (*table)[i].second;  // not a structured binding: clang 14 cannot capture one
    auto cell = [&](std::size_t k) -> std::string {
      return col[k] >= 0 && static_cast<std::size_t>(col[k]) < cells.size() ? cells[static_cast<std::size_t>(col[k])] : "";
    };
    if (std::all_of(cells.begin(), cells.end(), [](const std::string& c) { return c.empty(); })) continue;
    ImportRow r;
    r.row = number;
    std::vector<std::string> fields{cell(0), cell(1), cell(2), cell(3), cell(4)};
    if (fields[2].empty()) fields[2] = platform::kDefaultGroup;
    auto rec = platform::device_from_csv(fields);
    if (!rec) {
      r.error = rec.error().message;
      r.rec.group = fields[2];
      r.rec.description = fields[4];
      if (auto id = ai::parse_device(fields[0])) r.rec.id = *id;
    } else {
      r.rec = *rec;
    }
    r.region_text = cell(5);
    r.category = cell(6);
    if (r.error.empty()) {
      if (auto reg = region_ref(meta_, json(r.region_text)); !reg)
        r.error = reg.error().message;
      else
        r.region = *reg;
    }
    if (r.error.empty())
      if (auto c = check_category(r.category); !c) r.error = c.error().message;
    if (r.error.empty())
      if (auto d = check_description(r.rec.description); !d) r.error = d.error().message;
    if (r.error.empty()) {
      auto [it, fresh] = first_row.try_emplace(r.rec.id, r.row);
      if (!fresh) r.error = "device " + ai::format_device(r.rec.id) + " again (first in row " + std::to_string(it->second) + ")";
    }
    r.exists = server_.registry().find_device(r.rec.id) != platform::kNone;
    rows.push_back(std::move(r));
  }
  std::size_t errors = 0;
  for (const auto& r : rows) errors += !r.error.empty();
  if (!commit || errors) {
    json list = json::array();
    for (const auto& r : rows) {
      json j{{"row", r.row},
             {"id", r.rec.id ? ai::format_device(r.rec.id) : ""},
             {"group", r.rec.group},
             {"enabled", r.rec.enabled},
             {"description", r.rec.description},
             {"region", r.region_text},
             {"category", r.category},
             {"action", r.exists ? "update" : "add"}};
      if (!r.error.empty()) j["error"] = r.error;
      list.push_back(std::move(j));
    }
    json out{{"total", rows.size()}, {"errors", errors}, {"rows", list}};
    if (commit) {
      out["error"] = "invalid_rows";
      out["message"] = std::to_string(errors) + " row" + (errors == 1 ? " has an error" : "s have errors") +
                       ": nothing imported (fix them and upload again)";
      return send_json(ex, 400, out);
    }
    return send_json(ex, 200, out);
  }
  if (rows.empty()) return error(ex, 400, "empty", "no device rows under the header: nothing imported");
  change(ex, s, "device_import", [rows = std::move(rows)](platform::Store& st) -> Result<json> {
    std::size_t added = 0;
    for (const auto& r : rows) {
      if (auto p = st.put_device(r.rec, RecordStore::Mode::upsert); !p)
        return unexpected(http_error(503, "row " + std::to_string(r.row) + ": " + p.error().message + " (nothing imported)"));
      if (auto m = set_device_meta(st.db(), r.rec.id, DeviceMeta{r.region, r.category}); !m) return unexpected(m.error());
      added += !r.exists;
    }
    return json{{"imported", rows.size()}, {"added", added}, {"updated", rows.size() - added}};
  });
}

// ---- accounts -------------------------------------------------------------------------------

namespace {
Result<void> account_fields(const json& b, platform::AccountRecord& a, bool creating) {
  if (b.contains("name")) {
    if (!b["name"].is_string()) return unexpected(http_error(400, "name: text"));
    a.name = b["name"].get<std::string>();
    if (a.name.size() > 64) return unexpected(http_error(400, "name: at most 64 characters"));
  }
  if (b.contains("password") || creating) {
    if (!b.value("password", json()).is_string()) return unexpected(http_error(400, "password: 16 hex digits or text:..."));
    auto pw = ai::parse_password(b["password"].get<std::string>());
    if (!pw) return unexpected(http_error(400, "password: " + pw.error().message));
    a.password = *pw;
  }
  if (b.contains("groups")) {
    const json& g = b["groups"];
    std::string list;
    if (g.is_string()) {
      list = g.get<std::string>();
    } else if (g.is_array()) {
      for (const auto& x : g) {
        if (!x.is_string()) return unexpected(http_error(400, "groups: names"));
        if (!list.empty()) list += ";";
        list += x.get<std::string>();
      }
    } else {
      return unexpected(http_error(400, R"(groups: "*" or a list of names)"));
    }
    a.groups.clear();
    a.all_groups = false;
    if (auto r = platform::parse_group_list(list, a); !r) return unexpected(http_error(400, r.error().message));
  }
  if (b.contains("enabled")) {
    if (!b["enabled"].is_boolean()) return unexpected(http_error(400, "enabled: true or false"));
    a.enabled = b["enabled"].get<bool>();
  }
  if (b.contains("description")) {
    if (!b["description"].is_string()) return unexpected(http_error(400, "description: text"));
    a.description = b["description"].get<std::string>();
    if (auto r = check_description(a.description); !r) return r;
  }
  return {};
}
}  // namespace

void Console::add_account(const ExchangePtr& ex, const Session& s) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object() || !b.value("id", json()).is_number_unsigned())
    return error(ex, 400, "bad_request", R"(expected {"id": N, "name": "...", "password": "...", "groups": [...]})");
  platform::AccountRecord a;
  a.id = b["id"].get<std::uint64_t>();
  if (auto r = account_fields(b, a, true); !r) return error(ex, 400, "bad_request", r.error().message);
  change(ex, s, "account_add", [a](platform::Store& st) -> Result<json> {
    if (auto r = st.put_account(a, RecordStore::Mode::insert); !r)
      return unexpected(http_error(409, "account " + std::to_string(a.id) + " exists"));
    return json{{"account", a.id}, {"name", a.name}, {"groups", platform::format_group_list(a)}};
  }, 201);
}

void Console::edit_account(const ExchangePtr& ex, const Session& s, std::uint64_t id) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object()) return error(ex, 400, "bad_request", "expected a JSON object of the fields to change");
  change(ex, s, "account_edit", [id, b](platform::Store& st) -> Result<json> {
    auto found = find_account_record(st.db(), id);
    if (!found) return unexpected(found.error());
    if (!*found) return unexpected(http_error(404, "no account " + std::to_string(id)));
    platform::AccountRecord a = **found;
    if (auto r = account_fields(b, a, false); !r) return unexpected(r.error());
    if (auto r = st.put_account(a, RecordStore::Mode::upsert); !r) return unexpected(r.error());
    return json{{"account", a.id}, {"name", a.name}, {"groups", platform::format_group_list(a)}, {"enabled", a.enabled}};
  });
}

void Console::remove_account(const ExchangePtr& ex, const Session& s, std::uint64_t id) {
  change(ex, s, "account_remove", [id](platform::Store& st) -> Result<json> {
    auto r = st.remove_account(id);
    if (!r) return unexpected(r.error());
    if (!*r) return unexpected(http_error(404, "no account " + std::to_string(id)));
    return json{{"account", id}};
  });
}

// ---- groups and regions ---------------------------------------------------------------------

void Console::add_group(const ExchangePtr& ex, const Session& s) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object() || !b.value("name", json()).is_string())
    return error(ex, 400, "bad_request", R"(expected {"name": "...", "region": id|null})");
  const std::string name = b["name"].get<std::string>();
  if (auto r = platform::check_group_name(name); !r) return error(ex, 400, "bad_group", r.error().message);
  auto region = region_ref(meta_, b.value("region", json()));
  if (!region) return error(ex, 400, "bad_region", region.error().message);
  const auto reg = *region;
  change(ex, s, "group_add", [name, reg](platform::Store& st) -> Result<json> {
    if (auto r = web::add_group(st.db(), name); !r) return unexpected(r.error());
    if (auto r = set_group_region(st.db(), name, reg); !r) return unexpected(r.error());
    json out{{"group", name}};
    out["region"] = reg ? json(*reg) : json();
    return out;
  }, 201);
}

void Console::edit_group(const ExchangePtr& ex, const Session& s, const std::string& name) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object() || !b.contains("region")) return error(ex, 400, "bad_request", R"(expected {"region": id|null})");
  auto region = region_ref(meta_, b["region"]);
  if (!region) return error(ex, 400, "bad_region", region.error().message);
  const auto reg = *region;
  change(ex, s, "group_edit", [name, reg](platform::Store& st) -> Result<json> {
    auto n = st.db().prepare("SELECT count(*) FROM groups WHERE name = ?");
    if (!n) return unexpected(n.error());
    n->bind(1, name);
    if (auto row = n->step(); !row) return unexpected(row.error());
    if (n->column_int(0) == 0) return unexpected(http_error(404, "no group '" + name + "'"));
    if (auto r = set_group_region(st.db(), name, reg); !r) return unexpected(r.error());
    json out{{"group", name}};
    out["region"] = reg ? json(*reg) : json();
    return out;
  });
}

void Console::list_regions(const ExchangePtr& ex) {
  platform::Registry& reg = server_.registry();
  std::unordered_map<std::int64_t, std::size_t> groups, devices, online;
  for (const auto& [g, r] : meta_.group_region) ++groups[r];
  for (const auto& d : reg.devices()) {
    if (d.removed) continue;
    if (auto r = meta_.region_of(d.id, reg.groups()[d.group].name)) {
      ++devices[*r];
      online[*r] += d.online();
    }
  }
  json out = json::array();
  for (const auto& r : meta_.regions) {
    json j{{"id", r.id}, {"name", r.name}, {"groups", groups[r.id]}, {"devices", devices[r.id]}, {"online", online[r.id]}};
    j["parent"] = r.parent ? json(*r.parent) : json();
    out.push_back(std::move(j));
  }
  send_json(ex, 200, {{"regions", out}});
}

void Console::add_region(const ExchangePtr& ex, const Session& s) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object() || !b.value("name", json()).is_string())
    return error(ex, 400, "bad_request", R"(expected {"name": "...", "parent": id|null})");
  const std::string name = b["name"].get<std::string>();
  const auto parent = opt_int(b.value("parent", json()));
  change(ex, s, "region_add", [name, parent](platform::Store& st) -> Result<json> {
    auto id = web::add_region(st.db(), name, parent);
    if (!id) return unexpected(id.error().kind == ErrorKind::bad_value ? http_error(400, id.error().message) : id.error());
    json out{{"region", *id}, {"name", name}};
    out["parent"] = parent ? json(*parent) : json();
    return out;
  }, 201);
}

void Console::edit_region(const ExchangePtr& ex, const Session& s, std::int64_t id) {
  json b = json::parse(ex->body(), nullptr, false);
  const Region* r = meta_.region(id);
  if (!r) return error(ex, 404, "unknown", "no region " + std::to_string(id));
  if (!b.is_object()) return error(ex, 400, "bad_request", R"(expected {"name": "...", "parent": id|null})");
  const std::string name = b.contains("name") && b["name"].is_string() ? b["name"].get<std::string>() : r->name;
  const auto parent = b.contains("parent") ? opt_int(b["parent"]) : r->parent;
  change(ex, s, "region_edit", [id, name, parent](platform::Store& st) -> Result<json> {
    if (auto u = update_region(st.db(), id, name, parent); !u)
      return unexpected(u.error().kind == ErrorKind::bad_value ? http_error(400, u.error().message) : u.error());
    json out{{"region", id}, {"name", name}};
    out["parent"] = parent ? json(*parent) : json();
    return out;
  });
}

void Console::remove_region(const ExchangePtr& ex, const Session& s, std::int64_t id) {
  change(ex, s, "region_remove", [id](platform::Store& st) -> Result<json> {
    auto r = web::remove_region(st.db(), id);
    if (!r) return unexpected(r.error());
    if (!*r) return unexpected(http_error(404, "no region " + std::to_string(id)));
    return json{{"region", id}};
  });
}

// ---- console users: role, enabled, password -------------------------------------------------

void Console::edit_user(const ExchangePtr& ex, const Session& s, const std::string& name) {
  json b = json::parse(ex->body(), nullptr, false);
  if (!b.is_object()) return error(ex, 400, "bad_request", R"(expected {"role"?, "enabled"?, "password"?})");
  std::optional<Role> role;
  std::optional<bool> enabled;
  std::optional<std::string> password;
  if (b.contains("role")) {
    auto r = b["role"].is_string() ? parse_role(b["role"].get<std::string>())
                                   : Result<Role>(unexpected(Error{ErrorKind::bad_value, 0, "role: text"}));
    if (!r) return error(ex, 400, "bad_role", r.error().message);
    role = *r;
  }
  if (b.contains("enabled")) {
    if (!b["enabled"].is_boolean()) return error(ex, 400, "bad_enabled", "enabled: true or false");
    enabled = b["enabled"].get<bool>();
  }
  if (b.contains("password")) {
    if (!b["password"].is_string()) return error(ex, 400, "bad_password", "password: text");
    password = b["password"].get<std::string>();
    if (auto r = check_password(*password); !r) return error(ex, 400, "bad_password", r.error().message);
  }
  if (name == s.user && ((role && *role != Role::admin) || (enabled && !*enabled)))
    return error(ex, 409, "self", "you cannot take the administrator role or sign-in from yourself");
  const std::string db = opt_.db, by = s.user;
  const bool posted = worker_->post([this, ex, db, name, role, enabled, password, by]() -> Worker::Then {
    std::string failure;
    unsigned status = 200;
    ConsoleUser u;
    auto store = UserStore::open(db, platform::Database::Access::read_write);
    if (!store) {
      failure = store.error().message, status = 503;
    } else if (auto f = store->find(name); !f || !*f) {
      failure = f ? "no console user '" + name + "'" : f.error().message, status = f ? 404 : 503;
    } else {
      u = **f;
      if (role) u.role = *role;
      if (enabled) u.enabled = *enabled;
      if (password) {
        if (auto h = hash_password(*password))
          u.hash = *h;
        else
          failure = h.error().message, status = 503;
      }
      if (failure.empty())
        if (auto r = store->put(u, true); !r) failure = r.error().message, status = 503;
    }
    return [this, ex, u, by, failure, status, password] {
      if (!failure.empty()) return error(ex, status, status == 404 ? "unknown" : "registry", failure);
      EventLog::Line line("console_change");
      line.add("user", by).add("action", "user_edit").add("name", u.name).add("role", std::string(role_name(u.role)));
      line.add("enabled", u.enabled);
      if (password) line.add("password_changed", true);
      server_.log().write(line);
      for (auto it = sessions_.begin(); it != sessions_.end();) {  // sessions follow at once
        if (it->second.user == u.name && !u.enabled) {
          it = sessions_.erase(it);
          continue;
        }
        if (it->second.user == u.name) it->second.role = u.role;
        ++it;
      }
      send_json(ex, 200, {{"name", u.name}, {"role", role_name(u.role)}, {"enabled", u.enabled}});
    };
  });
  if (!posted) error(ex, 503, "busy", "the console is busy: try again in a second");
}

// ---- statistics -----------------------------------------------------------------------------

// Once a minute: online devices per group, per region and in all, into the registry file.
void Console::sample() {
  const std::int64_t minute = static_cast<std::int64_t>(std::time(nullptr)) / 60;
  if (minute == last_sample_) return;
  last_sample_ = minute;
  platform::Registry& reg = server_.registry();
  std::unordered_map<std::string, std::int64_t> groups, regions;
  std::int64_t total = 0;
  for (const auto& d : reg.devices()) {
    if (d.removed) continue;
    const std::string& g = reg.groups()[d.group].name;
    const std::int64_t on = d.online() ? 1 : 0;
    groups[g] += on;
    if (auto r = meta_.region_of(d.id, g)) regions[std::to_string(*r)] += on;
    total += on;
  }
  std::vector<Sample> samples;
  for (auto& [n, v] : groups) samples.push_back(Sample{minute, 'g', n, v});
  for (auto& [n, v] : regions) samples.push_back(Sample{minute, 'r', n, v});
  samples.push_back(Sample{minute, 't', "all", total});
  const std::string db = opt_.db;
  worker_->post([db, samples = std::move(samples)]() -> Worker::Then {
    auto store = platform::Store::open(db, platform::Database::Access::read_write);
    if (store && create_meta_tables(store->db())) add_samples(store->db(), samples);
    return {};
  });
}

// GET /api/stats?hours=24&by=group|region|all: per-minute samples, then the live count now.
void Console::stats_history(const ExchangePtr& ex) {
  int hours = 24;
  if (!ex->query("hours").empty()) {
    try {
      hours = std::clamp(std::stoi(ex->query("hours")), 1, 30 * 24);
    } catch (...) {
      return error(ex, 400, "bad_request", "hours: a number from 1 to 720");
    }
  }
  const std::string by = ex->query("by").empty() ? "group" : ex->query("by");
  if (by != "group" && by != "region" && by != "all") return error(ex, 400, "bad_request", "by: group, region or all");
  const char kind = by == "group" ? 'g' : by == "region" ? 'r' : 't';
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  // The live point, taken now on the loop.
  platform::Registry& reg = server_.registry();
  std::unordered_map<std::string, std::int64_t> live;
  for (const auto& d : reg.devices()) {
    if (d.removed) continue;
    const std::string& g = reg.groups()[d.group].name;
    std::string key = kind == 'g' ? g : kind == 't' ? "all" : "";
    if (kind == 'r') {
      auto r = meta_.region_of(d.id, g);
      if (!r) continue;
      key = std::to_string(*r);
    }
    live[key] += d.online() ? 1 : 0;
  }
  std::unordered_map<std::string, std::string> names;  // region id -> name
  for (const auto& r : meta_.regions) names[std::to_string(r.id)] = r.name;
  const std::string db = opt_.db;
  const std::int64_t since = now / 60 - static_cast<std::int64_t>(hours) * 60;
  const bool posted = worker_->post([ex, db, since, kind, live, names, now]() -> Worker::Then {
    auto database = platform::Database::open(db, platform::Database::Access::read_only);
    Result<std::vector<Sample>> samples =
        database ? samples_since(*database, since, kind) : Result<std::vector<Sample>>(unexpected(database.error()));
    return [ex, samples = std::move(samples), live, names, now, kind] {
      if (!samples) return error(ex, 503, "registry", samples.error().message);
      std::map<std::string, json> series;
      for (const auto& s : *samples) series[s.name].push_back(json::array({s.minute * 60, s.online}));
      for (const auto& [name, v] : live) series[name].push_back(json::array({now, v}));
      json out = json::array();
      for (auto& [name, points] : series) {
        json j{{"name", kind == 'r' && names.count(name) ? names.at(name) : name}, {"points", points}};
        if (kind == 'r') j["region"] = std::stoll(name);
        out.push_back(std::move(j));
      }
      send_json(ex, 200, {{"step", 60}, {"now", now}, {"series", out}});
    };
  });
  if (!posted) error(ex, 503, "busy", "the console is busy: try again in a second");
}

// GET /api/firmware: the images an OTA update may name (serve --firmware-dir).
void Console::firmware(const ExchangePtr& ex) {
  json files = json::array();
  if (!opt_.firmware_dir.empty()) {
    std::error_code ec;
    std::vector<std::pair<std::string, std::uintmax_t>> list;
    for (auto it = std::filesystem::directory_iterator(opt_.firmware_dir, ec); !ec && it != std::filesystem::end(it);
         it.increment(ec))
      if (it->is_regular_file(ec)) list.emplace_back(it->path().filename().string(), it->file_size(ec));
    std::sort(list.begin(), list.end());
    for (auto& [n, sz] : list) files.push_back({{"name", n}, {"size", sz}});
  }
  send_json(ex, 200, {{"files", files}, {"enabled", !opt_.firmware_dir.empty()}});
}

}  // namespace m2m::web
