// Helpers shared by the store tests: options over a temp dir, random embeddings, raw SQLite
// access to the file behind a Store (to tamper with it), and byte searches in files.
#pragma once

#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/store/keyring.h"
#include "facegate/store/options.h"
#include "facegate/store/store.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace facegate::store::testing {

inline constexpr std::string_view kModel = "test-model-v1";
inline constexpr int kDim = 128;

// Options for a store in `dir`, with key 1 created there.
inline StoreOptions MakeOptions(const std::filesystem::path& dir) {
  StoreOptions o;
  o.db_file = dir / "facegate.db";
  o.key_dir = dir / "keys";
  Status s = Keyring::EnsureFirstKey(o.key_dir);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  return o;
}

inline std::vector<float> RandomEmbedding(std::mt19937& rng, int dim = kDim) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  float norm = 0;
  for (float& x : v) {
    x = normal(rng);
    norm += x * x;
  }
  for (float& x : v) x /= std::sqrt(norm);
  return v;
}

inline User MakeUser(const std::string& external_id) {
  User u;
  u.external_id = external_id;
  u.first_name = "First " + external_id;
  u.last_name = "Last";
  return u;
}

// A raw SQLite connection to a database file (closed on destruction).
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open failed");
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql`; returns SQLite's error message, or "" on success.
  std::string Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return "";
    std::string message = error ? error : "error";
    sqlite3_free(error);
    return message;
  }
  // The first column of every row of `sql`, as text.
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db_));
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out.emplace_back(text ? text : "NULL");
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::string One(const std::string& sql) {
    auto rows = Column(sql);
    return rows.empty() ? "" : rows[0];
  }
  // The first column of the first row of `sql` as bytes.
  std::string Blob(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      out.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                 sqlite3_column_bytes(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  sqlite3* get() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

inline std::string ReadAll(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return "";
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline bool FileContains(const std::filesystem::path& file, std::string_view needle) {
  return ReadAll(file).find(needle) != std::string::npos;
}

}  // namespace facegate::store::testing
