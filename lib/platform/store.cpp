#include "platform/store.hpp"

#include "m2m/frame.hpp"

namespace m2m::platform {

namespace {
// Device ids are unsigned 64-bit; SQLite integers are signed. The bits are stored as they are.
std::int64_t to_sql(std::uint64_t id) { return static_cast<std::int64_t>(id); }
std::uint64_t from_sql(std::int64_t v) { return static_cast<std::uint64_t>(v); }

constexpr const char* kSchema = R"(
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS groups(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS devices(
  id INTEGER PRIMARY KEY,
  password BLOB NOT NULL,
  group_id INTEGER NOT NULL REFERENCES groups(id),
  enabled INTEGER NOT NULL DEFAULT 1,
  description TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS accounts(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  password BLOB NOT NULL,
  groups TEXT NOT NULL DEFAULT '',
  enabled INTEGER NOT NULL DEFAULT 1,
  description TEXT NOT NULL DEFAULT '');
PRAGMA user_version = 1;
COMMIT;
)";

ai::Password to_password(const Bytes& b) {
  ai::Password p{};
  for (std::size_t i = 0; i < p.size() && i < b.size(); ++i) p[i] = b[i];
  return p;
}

template <class T>
unexpected<Error> pass(Result<T>& r) { return unexpected(std::move(r).error()); }
}  // namespace

Result<Store> Store::open(const std::string& path, Access access) {
  auto db = Database::open(path, access);
  if (!db) return pass(db);
  Store s;
  s.db_ = std::move(*db);
  auto version = s.db_.query_int("PRAGMA user_version");
  if (!version) return pass(version);
  if (access != Access::read_only) {
    // Each statement here writes only when the file is new: an existing registry opened for
    // writing takes no lock until the command's own write.
    auto mode = s.db_.query_int("SELECT journal_mode = 'wal' FROM pragma_journal_mode");
    if (!mode) return pass(mode);
    if (!*mode)
      if (auto r = s.db_.exec("PRAGMA journal_mode=WAL"); !r) return unexpected(r.error());
    if (auto r = s.db_.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"); !r) return unexpected(r.error());
    if (*version < 1)
      if (auto r = s.db_.exec(kSchema); !r) return unexpected(r.error());
  } else if (*version < 1) {
    return fail(ErrorKind::io, path + ": not a registry (no devices or accounts tables)");
  }
  auto prep = [&](Statement& st, std::string_view sql) -> Result<void> {
    auto p = s.db_.prepare(sql);
    if (!p) return pass(p);
    st = std::move(*p);
    return {};
  };
  for (auto r : {prep(s.insert_device_, "INSERT INTO devices(id,password,group_id,enabled,description) VALUES(?,?,?,?,?)"),
                 prep(s.upsert_device_, "INSERT OR REPLACE INTO devices(id,password,group_id,enabled,description) VALUES(?,?,?,?,?)"),
                 prep(s.insert_group_, "INSERT OR IGNORE INTO groups(name) VALUES(?)"),
                 prep(s.find_group_, "SELECT id FROM groups WHERE name=?")})
    if (!r) return unexpected(r.error());
  return s;
}

Result<std::int64_t> Store::group_id(const std::string& name) {
  if (auto it = group_ids_.find(name); it != group_ids_.end()) return it->second;
  if (auto r = insert_group_.bind(1, name).run(); !r) return unexpected(r.error());
  find_group_.bind(1, name);
  auto row = find_group_.step();
  if (!row) return pass(row);
  if (!*row) return fail(ErrorKind::io, "group '" + name + "' vanished");
  std::int64_t id = find_group_.column_int(0);
  find_group_.reset();
  group_ids_.emplace(name, id);
  return id;
}

Result<void> Store::put_device(const DeviceRecord& d, Mode mode) {
  auto gid = group_id(d.group);
  if (!gid) return unexpected(gid.error());
  Statement& st = mode == Mode::insert ? insert_device_ : upsert_device_;
  st.bind(1, to_sql(d.id)).bind_blob(2, d.password).bind(3, *gid).bind(4, d.enabled ? 1 : 0).bind(5, d.description);
  auto r = st.run();
  if (!r && mode == Mode::insert && r.error().message.find("UNIQUE") != std::string::npos)
    return fail(ErrorKind::bad_value, "device " + ai::format_device(d.id) + " already exists");
  return r;
}

Result<bool> Store::remove_device(std::uint64_t id) {
  auto st = db_.prepare("DELETE FROM devices WHERE id=?");
  if (!st) return pass(st);
  if (auto r = st->bind(1, to_sql(id)).run(); !r) return unexpected(r.error());
  return db_.changes() > 0;
}

Result<void> Store::each_device(const std::function<void(const DeviceRecord&)>& fn) {
  auto st = db_.prepare(
      "SELECT d.id, d.password, g.name, d.enabled, d.description FROM devices d JOIN groups g ON g.id = d.group_id "
      "ORDER BY d.id");
  if (!st) return pass(st);
  DeviceRecord d;
  for (;;) {
    auto row = st->step();
    if (!row) return pass(row);
    if (!*row) return {};
    d.id = from_sql(st->column_int(0));
    d.password = to_password(st->column_blob(1));
    d.group = st->column_text(2);
    d.enabled = st->column_int(3) != 0;
    d.description = st->column_text(4);
    fn(d);
  }
}

Result<void> Store::put_account(const AccountRecord& a, Mode mode) {
  for (const auto& g : a.groups)
    if (auto r = group_id(g); !r) return unexpected(r.error());
  auto st = db_.prepare(mode == Mode::insert
                            ? "INSERT INTO accounts(id,name,password,groups,enabled,description) VALUES(?,?,?,?,?,?)"
                            : "INSERT OR REPLACE INTO accounts(id,name,password,groups,enabled,description) VALUES(?,?,?,?,?,?)");
  if (!st) return pass(st);
  st->bind(1, to_sql(a.id)).bind(2, a.name).bind_blob(3, a.password).bind(4, format_group_list(a));
  st->bind(5, a.enabled ? 1 : 0).bind(6, a.description);
  auto r = st->run();
  if (!r && mode == Mode::insert && r.error().message.find("UNIQUE") != std::string::npos)
    return fail(ErrorKind::bad_value, "account " + std::to_string(a.id) + " already exists");
  return r;
}

Result<bool> Store::remove_account(std::uint64_t id) {
  auto st = db_.prepare("DELETE FROM accounts WHERE id=?");
  if (!st) return pass(st);
  if (auto r = st->bind(1, to_sql(id)).run(); !r) return unexpected(r.error());
  return db_.changes() > 0;
}

Result<void> Store::each_account(const std::function<void(const AccountRecord&)>& fn) {
  auto st = db_.prepare("SELECT id, name, password, groups, enabled, description FROM accounts ORDER BY id");
  if (!st) return pass(st);
  for (;;) {
    auto row = st->step();
    if (!row) return pass(row);
    if (!*row) return {};
    AccountRecord a;
    a.id = from_sql(st->column_int(0));
    a.name = st->column_text(1);
    a.password = to_password(st->column_blob(2));
    if (auto r = parse_group_list(st->column_text(3), a); !r) return unexpected(r.error());
    a.enabled = st->column_int(4) != 0;
    a.description = st->column_text(5);
    fn(a);
  }
}

Result<void> Store::begin() { return db_.exec("BEGIN IMMEDIATE"); }
Result<void> Store::commit() { return db_.exec("COMMIT"); }

}  // namespace m2m::platform
