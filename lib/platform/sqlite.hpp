// A thin RAII layer over the SQLite C API: one connection, prepared statements, errors as
// m2m::Error (kind io) instead of return codes scattered through the registry code.
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
  Statement(sqlite3* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}

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
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

class Database {
 public:
  // Opens (creating when allowed) the file. ":memory:" works for tests.
  static Result<Database> open(const std::string& path, bool create);

  Result<void> exec(const char* sql);
  Result<Statement> prepare(std::string_view sql);
  std::int64_t changes() const;
  std::string message() const;  // last error text of the connection

 private:
  struct Closer { void operator()(sqlite3* db) const; };
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
