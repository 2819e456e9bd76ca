// A thin RAII layer over the SQLite C API, private to src/store.
//
// Connection owns a sqlite3* and a cache of prepared statements (keyed by the SQL text);
// Stmt is a handle on a cached statement that resets and clears its bindings when it goes
// out of scope; Transaction is BEGIN IMMEDIATE .. COMMIT with a rollback when abandoned.
// Every SQLite result code is turned into a facegate::Status here and nowhere else.
// Thread-safety: none. A Connection (and its statements) is used by one thread at a time;
// the Store serialises access with its own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "facegate/core/status.h"

namespace facegate::store::internal {

// Maps a SQLite result code to a Status: CORRUPT/NOTADB -> Corruption, FULL ->
// ResourceExhausted, IOERR/CANTOPEN -> IOError, BUSY/LOCKED -> Unavailable, UNIQUE/PRIMARY KEY
// constraints -> AlreadyExists, other constraints -> InvalidArgument, the rest -> Internal.
// The message is "<what>: <SQLite's message>".
Status SqliteError(sqlite3* db, int rc, std::string_view what);

// The bytes of `s`, for BindBlob (hashes kept in std::string).
inline std::span<const uint8_t> BlobOf(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt() { Release(); }
  Stmt(Stmt&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)),
        bind_error_(std::exchange(other.bind_error_, SQLITE_OK)) {}
  Stmt& operator=(Stmt&& other) noexcept {
    if (this != &other) {
      Release();
      stmt_ = std::exchange(other.stmt_, nullptr);
      bind_error_ = std::exchange(other.bind_error_, SQLITE_OK);
    }
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are numbered from 1, as in SQLite.
  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Stmt& Bind(int index, double value);
  Stmt& Bind(int index, std::string_view text);
  Stmt& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Stmt& Bind(int index, std::optional<int64_t> value);
  Stmt& BindBlob(int index, std::span<const uint8_t> bytes);
  Stmt& BindNull(int index);

  // One step: true when a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps to the end, ignoring rows, then resets the statement (bindings stay) so it can be
  // bound and run again.
  Status Run();

  // Columns are numbered from 0, as in SQLite. Valid until the next Step.
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string_view Text(int column) const;
  std::span<const uint8_t> Blob(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;

  // Makes the statement ready to be bound and run again (also after an error).
  void Reset();

 private:
  void Release();           // reset + clear bindings (the statement stays in the cache)
  void Check(int bind_rc);  // remembers the first failed bind; Step reports it

  sqlite3_stmt* stmt_ = nullptr;
  int bind_error_ = SQLITE_OK;
};

class Connection {
 public:
  // Opens (and with `create` creates) the database file. `vfs` empty means SQLite's default.
  static Result<std::unique_ptr<Connection>> Open(const std::filesystem::path& file, bool read_only,
                                                  bool create, const std::string& vfs);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // A cached prepared statement for `sql`; prepared on first use.
  Result<Stmt> Prepare(std::string_view sql);
  // A single integer (or text) result of a query, e.g. a PRAGMA.
  Result<int64_t> QueryInt(std::string_view sql);
  Result<std::string> QueryText(std::string_view sql);

  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* get() const { return db_; }
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// BEGIN IMMEDIATE on construction (via Begin), ROLLBACK in the destructor unless committed.
class Transaction {
 public:
  static Result<Transaction> Begin(Connection& db);
  ~Transaction();
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;

  Status Commit();

 private:
  explicit Transaction(Connection* db) : db_(db) {}
  Connection* db_;
};

}  // namespace facegate::store::internal
