#include "platform/sqlite.hpp"

#include <sqlite3.h>

namespace m2m::platform {

namespace {
unexpected<Error> db_error(sqlite3* db, std::string_view what) {
  return fail(ErrorKind::io, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
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
  auto err = db_error(db_, "sqlite");
  sqlite3_reset(stmt_.get());
  return err;
}

Result<void> Statement::run() {
  for (;;) {
    auto r = step();
    if (!r) return unexpected(std::move(r).error());
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

Result<Database> Database::open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db;
  db.db_.reset(raw);
  if (rc != SQLITE_OK) return db_error(raw, "open " + path);
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

Result<void> Database::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : "unknown error";
    sqlite3_free(msg);
    return fail(ErrorKind::io, "sqlite: " + text);
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
    return db_error(db_.get(), "sqlite prepare");
  return Statement(db_.get(), s);
}

std::int64_t Database::changes() const { return sqlite3_changes(db_.get()); }
std::string Database::message() const { return sqlite3_errmsg(db_.get()); }

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
