#include "import_csv.h"

#include <chrono>
#include <ctime>
#include <map>

#include "facegate/core/time_format.h"

namespace facegate::app::import {

namespace {

constexpr size_t kMaxExternalIdLength = 128;  // what the admin API accepts

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// "External ID" -> "external_id", "Photo-2" -> "photo_2".
std::string ColumnKey(std::string_view name) {
  std::string out;
  for (char c : Trim(name)) {
    if (c == ' ' || c == '-') c = '_';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out += c;
  }
  return out;
}

bool IsPhotoColumn(const std::string& key) {
  if (key == "photo" || key == "photos") return true;
  if (key.rfind("photo", 0) != 0) return false;
  size_t i = 5;
  if (i < key.size() && key[i] == '_') ++i;
  if (i >= key.size()) return false;
  for (; i < key.size(); ++i) {
    if (key[i] < '0' || key[i] > '9') return false;
  }
  return true;
}

// Splits a cell on ';', trimming each item and dropping empty ones.
std::vector<std::string> SplitList(std::string_view cell) {
  std::vector<std::string> out;
  while (true) {
    size_t semi = cell.find(';');
    std::string_view item = Trim(cell.substr(0, semi));
    if (!item.empty()) out.emplace_back(item);
    if (semi == std::string_view::npos) break;
    cell.remove_prefix(semi + 1);
  }
  return out;
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::vector<CsvRecord> ReadCsvRecords(std::string_view text) {
  std::vector<CsvRecord> out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  size_t pos = 0;
  int line = 1;
  const size_t n = text.size();
  // Consumes a line end at `pos` (CRLF, LF or a lone CR); true when there was one.
  auto line_end = [&]() {
    if (pos < n && text[pos] == '\r') {
      ++pos;
      if (pos < n && text[pos] == '\n') ++pos;
      ++line;
      return true;
    }
    if (pos < n && text[pos] == '\n') {
      ++pos;
      ++line;
      return true;
    }
    return false;
  };
  while (pos < n) {
    CsvRecord rec;
    rec.line = line;
    bool any_quoted = false;
    while (true) {  // one field per turn
      std::string field;
      if (pos < n && text[pos] == '"') {
        any_quoted = true;
        const int opened_on = line;
        ++pos;
        bool closed = false;
        while (pos < n) {
          char c = text[pos];
          if (c == '"') {
            if (pos + 1 < n && text[pos + 1] == '"') {
              field += '"';
              pos += 2;
              continue;
            }
            ++pos;
            closed = true;
            break;
          }
          if (c == '\r' || c == '\n') {
            // Kept as written; counted once for a CRLF.
            field += c;
            ++pos;
            if (c == '\r' && pos < n && text[pos] == '\n') {
              field += '\n';
              ++pos;
            }
            ++line;
            continue;
          }
          field += c;
          ++pos;
        }
        if (!closed) {
          rec.fields.push_back(std::move(field));
          rec.error = "a quoted field is not closed (its quote opens on line " +
                      std::to_string(opened_on) + ")";
          out.push_back(std::move(rec));
          return out;
        }
        if (pos < n && text[pos] != ',' && text[pos] != '\r' && text[pos] != '\n') {
          if (rec.error.empty()) {
            rec.error = "text after the closing quote of field " +
                        std::to_string(rec.fields.size() + 1) +
                        " (a quote inside a quoted field is written twice: \"\")";
          }
          while (pos < n && text[pos] != ',' && text[pos] != '\r' && text[pos] != '\n') {
            field += text[pos++];
          }
        }
      } else {
        while (pos < n && text[pos] != ',' && text[pos] != '\r' && text[pos] != '\n') {
          field += text[pos++];
        }
      }
      rec.fields.push_back(std::move(field));
      if (pos < n && text[pos] == ',') {
        ++pos;
        continue;
      }
      line_end();
      break;
    }
    const bool blank = !any_quoted && rec.fields.size() == 1 && Trim(rec.fields[0]).empty();
    if (!blank) out.push_back(std::move(rec));
  }
  return out;
}

std::optional<std::string> NormalizeValidity(std::string_view text, bool end_of_day) {
  text = Trim(text);
  if (text.size() == 10 && text[4] == '-' && text[7] == '-' && AllDigits(text.substr(0, 4)) &&
      AllDigits(text.substr(5, 2)) && AllDigits(text.substr(8, 2))) {
    const int y = std::stoi(std::string(text.substr(0, 4)));
    const unsigned m = static_cast<unsigned>(std::stoi(std::string(text.substr(5, 2))));
    const unsigned d = static_cast<unsigned>(std::stoi(std::string(text.substr(8, 2))));
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                          std::chrono::day{d}};
    if (!ymd.ok()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = static_cast<int>(m) - 1;
    tm.tm_mday = static_cast<int>(d) + (end_of_day ? 1 : 0);  // mktime carries into the month
    tm.tm_isdst = -1;                                         // whatever the zone says on that date
    const std::time_t t = std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return FormatRfc3339(std::chrono::system_clock::from_time_t(t));
  }
  auto t = ParseRfc3339(text);
  if (!t) return std::nullopt;
  return FormatRfc3339(*t);
}

Result<ImportCsv> ParseImportCsv(std::string_view text) {
  std::vector<CsvRecord> records = ReadCsvRecords(text);
  if (records.empty()) {
    return Status::InvalidArgument(
        "the CSV is empty: it needs a header row such as "
        "external_id,first_name,last_name,photo");
  }
  const CsvRecord& head = records.front();
  if (!head.error.empty()) {
    return Status::InvalidArgument("bad CSV header (line " + std::to_string(head.line) +
                                   "): " + head.error);
  }
  ImportCsv csv;
  csv.header = head.fields;
  if (head.fields.size() == 1 && head.fields[0].find(';') != std::string::npos) {
    return Status::InvalidArgument(
        "the header row has no comma but semicolons: the columns must be separated by commas "
        "(save the sheet as \"CSV UTF-8 (comma delimited)\")");
  }

  // Columns by name.
  std::optional<size_t> col_id, col_first, col_last, col_groups, col_from, col_until;
  std::vector<size_t> col_photos;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < head.fields.size(); ++i) {
    const std::string key = ColumnKey(head.fields[i]);
    if (key.empty()) {
      csv.warnings.push_back("column " + std::to_string(i + 1) + " has no name: it is ignored");
      continue;
    }
    if (auto [it, fresh] = seen.emplace(key, i); !fresh) {
      return Status::InvalidArgument("the header names column '" + key + "' twice (columns " +
                                     std::to_string(it->second + 1) + " and " +
                                     std::to_string(i + 1) + ")");
    }
    if (key == "external_id") {
      col_id = i;
    } else if (key == "first_name") {
      col_first = i;
    } else if (key == "last_name") {
      col_last = i;
    } else if (key == "groups" || key == "group") {
      col_groups = i;
    } else if (key == "valid_from") {
      col_from = i;
    } else if (key == "valid_until") {
      col_until = i;
    } else if (IsPhotoColumn(key)) {
      col_photos.push_back(i);
    } else {
      csv.warnings.push_back("column '" + std::string(Trim(head.fields[i])) +
                             "' is not one facegatectl import knows: it is ignored");
    }
  }
  std::string header_text;
  for (const auto& f : head.fields) header_text += (header_text.empty() ? "" : ",") + f;
  if (!col_id) {
    return Status::InvalidArgument("the header has no external_id column (it is: " + header_text +
                                   ")");
  }
  if (col_photos.empty()) {
    return Status::InvalidArgument(
        "the header has no photo column (photo, or photo1, photo2, ...; it is: " + header_text +
        ")");
  }

  std::map<std::string, int, std::less<>> line_of_id;
  for (size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    auto bad = [&](std::string external_id, const std::string& why) {
      csv.bad_lines.push_back(BadLine{rec.line, std::move(external_id),
                                      "bad CSV line " + std::to_string(rec.line) + ": " + why});
    };
    std::string id = *col_id < rec.fields.size() ? std::string(Trim(rec.fields[*col_id])) : "";
    if (!rec.error.empty()) {
      bad(id, rec.error);
      continue;
    }
    if (rec.fields.size() != head.fields.size()) {
      bad(id, std::to_string(rec.fields.size()) + (rec.fields.size() == 1 ? " field" : " fields") +
                  ", the header has " + std::to_string(head.fields.size()));
      continue;
    }
    if (id.empty()) {
      bad(id, "no external_id");
      continue;
    }
    if (id.size() > kMaxExternalIdLength) {
      bad(id.substr(0, 40) + "...",
          "the external_id is longer than " + std::to_string(kMaxExternalIdLength) + " bytes");
      continue;
    }
    ImportRow row;
    row.line = rec.line;
    row.external_id = id;
    if (col_first) row.first_name = std::string(Trim(rec.fields[*col_first]));
    if (col_last) row.last_name = std::string(Trim(rec.fields[*col_last]));
    for (size_t c : col_photos) {
      for (auto& p : SplitList(rec.fields[c])) row.photos.push_back(std::move(p));
    }
    if (row.photos.empty()) {
      bad(id, "no photo");
      continue;
    }
    if (col_groups) row.groups = SplitList(rec.fields[*col_groups]);
    std::string date_problem;
    auto date = [&](std::optional<size_t> col, const char* name, bool end_of_day,
                    std::optional<std::string>* out) {
      if (!col || !date_problem.empty()) return;
      std::string_view cell = Trim(rec.fields[*col]);
      if (cell.empty()) return;
      *out = NormalizeValidity(cell, end_of_day);
      if (!*out) {
        date_problem = std::string(name) + " '" + std::string(cell) +
                       "' is not an RFC 3339 time (2026-12-01T08:00:00Z) or a date (2026-12-01)";
      }
    };
    date(col_from, "valid_from", false, &row.valid_from);
    date(col_until, "valid_until", true, &row.valid_until);
    if (!date_problem.empty()) {
      bad(id, date_problem);
      continue;
    }
    if (row.valid_from && row.valid_until &&
        *ParseRfc3339(*row.valid_from) >= *ParseRfc3339(*row.valid_until)) {
      bad(id, "valid_from (" + *row.valid_from + ") is not before valid_until (" +
                  *row.valid_until + ")");
      continue;
    }
    if (auto it = line_of_id.find(id); it != line_of_id.end()) {
      bad(id, "external_id " + id + " is on line " + std::to_string(it->second) + " already");
      continue;
    }
    line_of_id.emplace(id, rec.line);
    csv.rows.push_back(std::move(row));
  }
  return csv;
}

}  // namespace facegate::app::import
