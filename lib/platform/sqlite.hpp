// A thin RAII layer over the SQLite C API: one connection, prepared statements, errors as
// m2m::Error (kind io) instead of return codes scattered through the registry code. Every
// error message starts with the file's name and says what went wrong, so an operator who
// sees it knows which file to look at.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace m2m::platform {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* s, std::shared_ptr<const std::string> name)
      : db_(db), name_(std::move(name)), stmt_(s) {}

  Statement& bind(int index, std::int64_t v);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, ByteView blob);
  // Runs one step: true while a row is available, false when done. Errors become Error.
  Result<bool> step();
  Result<void> run();  // step to completion, then reset for reuse
  void reset();

  std::int64_t column_int(int col) const;
  std::string column_text(int col) const;
  Bytes column_blob(int col) const;

 private:
  struct Finalizer { void operator()(sqlite3_stmt* s) const; };
  sqlite3* db_ = nullptr;
  std::shared_ptr<const std::string> name_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

class Database {
 public:
  // read_only: never writes (list, export); read_write: the file must exist (remove, serve);
  // create: creates a missing file (add, import). ":memory:" works for tests.
  enum class Access { read_only, read_write, create };
  // Waits this long for another connection's write lock before giving up with "locked".
  static constexpr int kBusyTimeoutMs = 5000;

  static Result<Database> open(const std::string& path, Access access);

  Result<void> exec(const char* sql);
  Result<Statement> prepare(std::string_view sql);
  Result<std::int64_t> query_int(const char* sql);  // first column of the first row
  // Changes whenever another connection commits to the file (PRAGMA data_version).
  Result<std::int64_t> data_version() { return query_int("PRAGMA data_version"); }
  std::int64_t changes() const;
  bool read_only() const;
  const std::string& name() const { return *name_; }
  // "FILE: CAUSE" for the connection's last error.
  Error error(std::string_view what = {}) const;

 private:
  struct Closer { void operator()(sqlite3* db) const; };
  std::shared_ptr<const std::string> name_ = std::make_shared<const std::string>();
  std::unique_ptr<sqlite3, Closer> db_;
};

// A transaction that rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Result<void> begin();
  Result<void> commit();

 private:
  Database& db_;
  bool open_ = false;
};

}  // namespace m2m::platform
