#include "web/meta.hpp"

#include <algorithm>

#include "core/expected.hpp"

namespace m2m::web {

namespace {
constexpr const char* kTables = R"(
CREATE TABLE IF NOT EXISTS console_regions(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  parent INTEGER REFERENCES console_regions(id));
CREATE TABLE IF NOT EXISTS console_device_meta(
  device INTEGER PRIMARY KEY,
  region INTEGER REFERENCES console_regions(id),
  category TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS console_group_meta(
  name TEXT PRIMARY KEY,
  region INTEGER REFERENCES console_regions(id));
CREATE TABLE IF NOT EXISTS console_links(
  a INTEGER NOT NULL,
  b INTEGER NOT NULL,
  PRIMARY KEY(a, b));
CREATE TABLE IF NOT EXISTS console_online(
  minute INTEGER NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  online INTEGER NOT NULL,
  PRIMARY KEY(minute, kind, name));
)";
constexpr std::int64_t kKeepMinutes = 30 * 24 * 60;

Error refused(std::string msg) { return Error{ErrorKind::refused, 0, std::move(msg)}; }

template <class T>
unexpected<Error> pass(Result<T>& r) {
  return unexpected(std::move(r).error());
}

Result<bool> has_table(platform::Database& db, const char* name) {
  auto st = db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?");
  if (!st) return pass(st);
  st->bind(1, std::string_view(name));
  auto row = st->step();
  if (!row) return pass(row);
  return st->column_int(0) > 0;
}

Result<void> run(platform::Database& db, std::string_view sql, const std::vector<std::int64_t>& ints,
                 const std::vector<std::string>& texts = {}) {
  auto st = db.prepare(sql);
  if (!st) return pass(st);
  int i = 1;
  for (auto v : ints) st->bind(i++, v);
  for (const auto& t : texts) st->bind(i++, std::string_view(t));
  return st->run();
}
}  // namespace

const Region* ConsoleMeta::region(std::int64_t id) const {
  for (const auto& r : regions)
    if (r.id == id) return &r;
  return nullptr;
}

std::optional<std::int64_t> ConsoleMeta::region_of(std::uint64_t device, const std::string& group) const {
  if (auto it = devices.find(device); it != devices.end() && it->second.region) return it->second.region;
  if (auto it = group_region.find(group); it != group_region.end()) return it->second;
  return std::nullopt;
}

Result<void> create_meta_tables(platform::Database& db) { return db.exec(kTables); }

Result<ConsoleMeta> load_meta(platform::Database& db) {
  ConsoleMeta m;
  auto exists = has_table(db, "console_regions");
  if (!exists) return pass(exists);
  auto each = [&](std::string_view sql, auto fn) -> Result<void> {
    auto st = db.prepare(sql);
    if (!st) return pass(st);
    for (;;) {
      auto row = st->step();
      if (!row) return pass(row);
      if (!*row) return {};
      fn(*st);
    }
  };
  auto opt = [](platform::Statement& st, int col, const std::string& text) -> std::optional<std::int64_t> {
    if (text.empty()) return std::nullopt;
    return st.column_int(col);
  };
  if (auto r = each("SELECT d.id, d.description FROM devices d WHERE d.description != ''",
                    [&](platform::Statement& st) {
                      m.descriptions[static_cast<std::uint64_t>(st.column_int(0))] = st.column_text(1);
                    });
      !r)
    return pass(r);
  if (!*exists) return m;
  if (auto r = each("SELECT id, name, ifnull(parent, '') FROM console_regions ORDER BY name",
                    [&](platform::Statement& st) {
                      m.regions.push_back(Region{st.column_int(0), st.column_text(1), opt(st, 2, st.column_text(2))});
                    });
      !r)
    return pass(r);
  if (auto r = each("SELECT device, ifnull(region, ''), category FROM console_device_meta",
                    [&](platform::Statement& st) {
                      m.devices[static_cast<std::uint64_t>(st.column_int(0))] =
                          DeviceMeta{opt(st, 1, st.column_text(1)), st.column_text(2)};
                    });
      !r)
    return pass(r);
  if (auto r = each("SELECT name, region FROM console_group_meta WHERE region IS NOT NULL",
                    [&](platform::Statement& st) { m.group_region[st.column_text(0)] = st.column_int(1); });
      !r)
    return pass(r);
  if (auto r = each("SELECT a, b FROM console_links",
                    [&](platform::Statement& st) {
                      const auto a = static_cast<std::uint64_t>(st.column_int(0));
                      const auto b = static_cast<std::uint64_t>(st.column_int(1));
                      m.links[a].push_back(b);
                      m.links[b].push_back(a);
                    });
      !r)
    return pass(r);
  if (auto r = each("SELECT g.name FROM groups g WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.group_id = g.id) "
                    "ORDER BY g.name",
                    [&](platform::Statement& st) { m.empty_groups.push_back(st.column_text(0)); });
      !r)
    return pass(r);
  return m;
}

Result<std::optional<platform::DeviceRecord>> find_device_record(platform::Database& db, std::uint64_t id) {
  auto st = db.prepare(
      "SELECT d.password, g.name, d.enabled, d.description FROM devices d JOIN groups g ON g.id = d.group_id "
      "WHERE d.id = ?");
  if (!st) return pass(st);
  st->bind(1, static_cast<std::int64_t>(id));
  auto row = st->step();
  if (!row) return pass(row);
  if (!*row) return std::optional<platform::DeviceRecord>{};
  platform::DeviceRecord d;
  d.id = id;
  const Bytes pw = st->column_blob(0);
  for (std::size_t i = 0; i < d.password.size() && i < pw.size(); ++i) d.password[i] = pw[i];
  d.group = st->column_text(1);
  d.enabled = st->column_int(2) != 0;
  d.description = st->column_text(3);
  return std::optional<platform::DeviceRecord>{std::move(d)};
}

Result<std::optional<platform::AccountRecord>> find_account_record(platform::Database& db, std::uint64_t id) {
  auto st = db.prepare("SELECT name, password, groups, enabled, description FROM accounts WHERE id = ?");
  if (!st) return pass(st);
  st->bind(1, static_cast<std::int64_t>(id));
  auto row = st->step();
  if (!row) return pass(row);
  if (!*row) return std::optional<platform::AccountRecord>{};
  platform::AccountRecord a;
  a.id = id;
  a.name = st->column_text(0);
  const Bytes pw = st->column_blob(1);
  for (std::size_t i = 0; i < a.password.size() && i < pw.size(); ++i) a.password[i] = pw[i];
  if (auto g = platform::parse_group_list(st->column_text(2), a); !g) return pass(g);
  a.enabled = st->column_int(3) != 0;
  a.description = st->column_text(4);
  return std::optional<platform::AccountRecord>{std::move(a)};
}

Result<std::int64_t> add_region(platform::Database& db, const std::string& name, std::optional<std::int64_t> parent) {
  if (name.empty() || name.size() > 64) return unexpected(Error{ErrorKind::bad_value, 0, "region name: 1 to 64 characters"});
  if (parent) {
    auto n = db.prepare("SELECT count(*) FROM console_regions WHERE id = ?");
    if (!n) return pass(n);
    n->bind(1, *parent);
    auto row = n->step();
    if (!row) return pass(row);
    if (n->column_int(0) == 0) return unexpected(refused("no parent region " + std::to_string(*parent)));
  }
  auto st = db.prepare("INSERT INTO console_regions(name, parent) VALUES(?, ?)");
  if (!st) return pass(st);
  st->bind(1, std::string_view(name));
  if (parent) st->bind(2, *parent);
  if (auto r = st->run(); !r) return pass(r);
  return db.query_int("SELECT last_insert_rowid()");
}

Result<void> update_region(platform::Database& db, std::int64_t id, const std::string& name,
                           std::optional<std::int64_t> parent) {
  if (name.empty() || name.size() > 64) return unexpected(Error{ErrorKind::bad_value, 0, "region name: 1 to 64 characters"});
  auto meta = load_meta(db);
  if (!meta) return pass(meta);
  if (!meta->region(id)) return unexpected(refused("no region " + std::to_string(id)));
  for (auto p = parent; p; p = meta->region(*p) ? meta->region(*p)->parent : std::nullopt) {
    if (*p == id) return unexpected(refused("a region cannot be inside itself"));
    if (!meta->region(*p)) return unexpected(refused("no parent region " + std::to_string(*p)));
  }
  auto st = db.prepare("UPDATE console_regions SET name = ?, parent = ? WHERE id = ?");
  if (!st) return pass(st);
  st->bind(1, std::string_view(name));
  if (parent) st->bind(2, *parent);
  st->bind(3, id);
  return st->run();
}

Result<bool> remove_region(platform::Database& db, std::int64_t id) {
  for (const char* sql : {"SELECT count(*) FROM console_regions WHERE parent = ?",
                          "SELECT count(*) FROM console_group_meta WHERE region = ?",
                          "SELECT count(*) FROM console_device_meta WHERE region = ?"}) {
    auto st = db.prepare(sql);
    if (!st) return pass(st);
    st->bind(1, id);
    auto row = st->step();
    if (!row) return pass(row);
    if (st->column_int(0) > 0)
      return unexpected(refused("region " + std::to_string(id) +
                                " still holds sub-regions, groups or devices: move them out first"));
  }
  if (auto r = run(db, "DELETE FROM console_regions WHERE id = ?", {id}); !r) return pass(r);
  return db.changes() > 0;
}

Result<void> set_device_meta(platform::Database& db, std::uint64_t id, const DeviceMeta& m) {
  if (!m.region && m.category.empty())
    return run(db, "DELETE FROM console_device_meta WHERE device = ?", {static_cast<std::int64_t>(id)});
  auto st = db.prepare("INSERT OR REPLACE INTO console_device_meta(device, region, category) VALUES(?, ?, ?)");
  if (!st) return pass(st);
  st->bind(1, static_cast<std::int64_t>(id));
  if (m.region) st->bind(2, *m.region);
  st->bind(3, std::string_view(m.category));
  return st->run();
}

Result<void> remove_device_meta(platform::Database& db, std::uint64_t id) {
  const auto v = static_cast<std::int64_t>(id);
  if (auto r = run(db, "DELETE FROM console_device_meta WHERE device = ?", {v}); !r) return r;
  return run(db, "DELETE FROM console_links WHERE a = ? OR b = ?", {v, v});
}

Result<void> set_group_region(platform::Database& db, const std::string& group, std::optional<std::int64_t> region) {
  auto st = db.prepare("INSERT OR REPLACE INTO console_group_meta(name, region) VALUES(?, ?)");
  if (!st) return pass(st);
  st->bind(1, std::string_view(group));
  if (region) st->bind(2, *region);
  return st->run();
}

Result<void> add_group(platform::Database& db, const std::string& group) {
  return run(db, "INSERT OR IGNORE INTO groups(name) VALUES(?)", {}, {group});
}

Result<void> associate(platform::Database& db, std::uint64_t a, std::uint64_t b) {
  if (a == b) return unexpected(refused("a device cannot be associated with itself"));
  const auto lo = static_cast<std::int64_t>(std::min(a, b)), hi = static_cast<std::int64_t>(std::max(a, b));
  return run(db, "INSERT OR IGNORE INTO console_links(a, b) VALUES(?, ?)", {lo, hi});
}

Result<bool> dissociate(platform::Database& db, std::uint64_t a, std::uint64_t b) {
  const auto lo = static_cast<std::int64_t>(std::min(a, b)), hi = static_cast<std::int64_t>(std::max(a, b));
  if (auto r = run(db, "DELETE FROM console_links WHERE a = ? AND b = ?", {lo, hi}); !r) return pass(r);
  return db.changes() > 0;
}

Result<void> add_samples(platform::Database& db, const std::vector<Sample>& samples) {
  if (samples.empty()) return {};
  platform::Transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto st = db.prepare("INSERT OR REPLACE INTO console_online(minute, kind, name, online) VALUES(?, ?, ?, ?)");
  if (!st) return pass(st);
  for (const auto& s : samples) {
    st->bind(1, s.minute).bind(2, std::string_view(&s.kind, 1)).bind(3, std::string_view(s.name)).bind(4, s.online);
    if (auto r = st->run(); !r) return r;
  }
  if (auto r = run(db, "DELETE FROM console_online WHERE minute < ?", {samples.front().minute - kKeepMinutes}); !r)
    return r;
  return tx.commit();
}

Result<std::vector<Sample>> samples_since(platform::Database& db, std::int64_t minute, char kind) {
  std::vector<Sample> out;
  auto exists = has_table(db, "console_online");
  if (!exists) return pass(exists);
  if (!*exists) return out;
  auto st = db.prepare("SELECT minute, name, online FROM console_online WHERE minute >= ? AND kind = ? ORDER BY minute");
  if (!st) return pass(st);
  st->bind(1, minute).bind(2, std::string_view(&kind, 1));
  for (;;) {
    auto row = st->step();
    if (!row) return pass(row);
    if (!*row) break;
    out.push_back(Sample{st->column_int(0), kind, st->column_text(1), st->column_int(2)});
  }
  return out;
}

}  // namespace m2m::web
