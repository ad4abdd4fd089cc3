#include "platform/sqlite.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace m2m::platform {

namespace {
// The cause in words, with a hint where SQLite's own text leaves an operator guessing.
std::string cause(sqlite3* db) {
  if (!db) return "out of memory";
  std::string text = sqlite3_errmsg(db);
  switch (sqlite3_errcode(db)) {
    case SQLITE_BUSY:
      text += " (another process held the write lock for more than " +
              std::to_string(Database::kBusyTimeoutMs / 1000) + "s)";
      break;
    case SQLITE_READONLY:
      text += " (the file, its directory or the file system is read-only)";
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      if (int e = sqlite3_system_errno(db)) text += std::string(" (") + std::strerror(e) + ")";
      break;
    default:
      break;
  }
  return text;
}

Error db_error(sqlite3* db, const std::string& name, std::string_view what) {
  std::string msg = name + ": ";
  if (!what.empty()) msg.append(what).append(": ");
  return Error{ErrorKind::io, 0, msg + cause(db)};
}

std::string dir_of(const std::string& path) {
  auto cut = path.rfind('/');
  return cut == std::string::npos ? "." : cut == 0 ? "/" : path.substr(0, cut);
}

// Why the registry cannot be written, or "" when it can (as far as permissions tell).
std::string why_read_only(const std::string& path) {
  const std::string dir = dir_of(path);
  struct statvfs fs{};
  if (statvfs(dir.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY)) return "its file system is mounted read-only";
  if (faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) != 0) return "no permission to write it";
  if (faccessat(AT_FDCWD, dir.c_str(), W_OK, AT_EACCESS) != 0)
    return "no permission to write its directory " + dir + " (SQLite keeps FILE-wal and FILE-shm there)";
  return {};
}

// True when we can write neither the file nor create files beside it (a read-only file
// system, or a file and directory that belong to someone else).
bool cannot_write_beside(const std::string& path) {
  const std::string dir = dir_of(path);
  struct statvfs fs{};
  if (statvfs(dir.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY)) return true;
  return faccessat(AT_FDCWD, dir.c_str(), W_OK, AT_EACCESS) != 0 ||
         faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) != 0;
}

Result<sqlite3*> open_raw(const std::string& name, const std::string& uri, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(uri.c_str(), &raw, flags | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    Error e = db_error(raw, name, "cannot open");
    sqlite3_close(raw);
    return unexpected(std::move(e));
  }
  sqlite3_extended_result_codes(raw, 0);
  sqlite3_busy_timeout(raw, Database::kBusyTimeoutMs);
  return raw;
}

// "file:" URI of a path, with the characters URIs reserve escaped.
std::string file_uri(const std::string& path, std::string_view query) {
  std::string out = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (!query.empty()) out.append("?").append(query);
  return out;
}
}  // namespace

void Statement::Finalizer::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
void Database::Closer::operator()(sqlite3* db) const { sqlite3_close(db); }

Statement& Statement::bind(int index, std::int64_t v) {
  sqlite3_bind_int64(stmt_.get(), index, v);
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_blob(int index, ByteView blob) {
  sqlite3_bind_blob(stmt_.get(), index, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error err = db_error(db_, name_ ? *name_ : std::string(), {});
  sqlite3_reset(stmt_.get());
  return unexpected(std::move(err));
}

Result<void> Statement::run() {
  for (;;) {
    auto r = step();
    if (!r) {
      reset();
      return unexpected(std::move(r).error());
    }
    if (!*r) break;
  }
  reset();
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
std::string Statement::column_text(int col) const {
  auto* p = sqlite3_column_text(stmt_.get(), col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
           : std::string();
}
Bytes Statement::column_blob(int col) const {
  auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), col));
  int n = sqlite3_column_bytes(stmt_.get(), col);
  return p ? Bytes(p, p + n) : Bytes();
}

Result<Database> Database::open(const std::string& path, Access access) {
  Database db;
  db.name_ = std::make_shared<const std::string>(path);
  const bool memory = path == ":memory:";
  if (!memory && access != Access::create) {
    // Only the commands that write create a registry: a typo must not leave an empty file
    // behind and then report an empty registry as if all were well.
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
      return fail(ErrorKind::io, path + ": no registry file (" + std::strerror(errno) +
                                     "); 'device add' or 'device import' creates one");
    if (!S_ISREG(st.st_mode)) return fail(ErrorKind::io, path + ": not a regular file");
  }
  if (!memory && access != Access::read_only) {
    // Said before SQLite tries, whose own words ("unable to open database file") name
    // neither the reason nor which of the three files it meant.
    std::string why = why_read_only(path);
    if (!why.empty() && ::access(path.c_str(), F_OK) == 0)
      return fail(ErrorKind::io, path + ": read-only registry (" + why + "); list and export can read it");
  }
  int flags = access == Access::read_only ? SQLITE_OPEN_READONLY
                                          : SQLITE_OPEN_READWRITE | (access == Access::create ? SQLITE_OPEN_CREATE : 0);
  auto raw = open_raw(path, memory ? path : file_uri(path, {}), flags);
  if (!raw) return unexpected(std::move(raw).error());
  db.db_.reset(*raw);
  if (access != Access::read_only || memory) return db;
  // A WAL file whose shared-memory index (FILE-shm) does not exist and cannot be created (a
  // read-only file system, a directory we may not write) cannot be read by SQLite at all.
  // No connection has the file open then (the last one removes the index), and we cannot
  // change it either, so reading it as immutable (no locks, no index) is what is there.
  if (auto probe = db.query_int("PRAGMA schema_version"); !probe) {
    if (!cannot_write_beside(path)) return unexpected(std::move(probe).error());
    auto again = open_raw(path, file_uri(path, "immutable=1"), SQLITE_OPEN_READONLY);
    if (!again) return unexpected(std::move(again).error());
    db.db_.reset(*again);
    if (auto r = db.query_int("PRAGMA schema_version"); !r) return unexpected(std::move(r).error());
  }
  return db;
}

Result<void> Database::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    sqlite3_free(msg);
    return unexpected(error());
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
    return unexpected(error());
  return Statement(db_.get(), s, name_);
}

Result<std::int64_t> Database::query_int(const char* sql) {
  auto st = prepare(sql);
  if (!st) return unexpected(std::move(st).error());
  auto row = st->step();
  if (!row) return unexpected(std::move(row).error());
  return *row ? st->column_int(0) : 0;
}

std::int64_t Database::changes() const { return sqlite3_changes(db_.get()); }
bool Database::read_only() const { return sqlite3_db_readonly(db_.get(), "main") == 1; }
Error Database::error(std::string_view what) const { return db_error(db_.get(), *name_, what); }

Transaction::~Transaction() {
  if (open_) (void)db_.exec("ROLLBACK");
}
Result<void> Transaction::begin() {
  auto r = db_.exec("BEGIN IMMEDIATE");
  open_ = r.has_value();
  return r;
}
Result<void> Transaction::commit() {
  auto r = db_.exec("COMMIT");
  if (r) open_ = false;
  return r;
}

}  // namespace m2m::platform
