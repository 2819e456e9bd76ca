// The CSV of `facegatectl import`: an RFC 4180 reader (quoted fields with embedded commas,
// newlines and doubled quotes; CRLF or LF line ends; a UTF-8 byte order mark) and the mapping
// of its records to import rows by header name.
//
// Columns, by header name (case and spaces do not matter: "External ID" is external_id):
// external_id (required), first_name, last_name, photo (several files separated by ';'; or
// several columns photo1, photo2, ...; at least one column), groups (';'-separated group
// external ids), valid_from, valid_until (RFC 3339, or YYYY-MM-DD: that whole day in the local
// time zone of facegatectl, so valid_from is its start and valid_until its end, the next
// midnight, as the validity period is half-open). Other columns are ignored with a warning.
//
// A record that cannot be imported (wrong number of fields, no external id, no photo, a bad
// date, an external id already on an earlier line) becomes a BadLine, "bad CSV line N: ...",
// and the others go on. Line numbers are physical lines of the file (1: the header), the line
// a record starts on; a quoted field with newlines makes a record span several lines.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::app::import {

struct CsvRecord {
  int line = 0;  // the physical line the record starts on, from 1
  std::vector<std::string> fields;
  std::string error;  // not empty: the record is malformed (e.g. text after a closing quote)
};

// Splits `text` into records. Blank lines are skipped. A quoted field left open at the end of
// the text makes a last record with an error.
std::vector<CsvRecord> ReadCsvRecords(std::string_view text);

struct ImportRow {
  int line = 0;
  std::string external_id;
  std::optional<std::string> first_name;  // nullopt: no such column
  std::optional<std::string> last_name;
  std::vector<std::string> photos;        // paths as written in the CSV
  std::vector<std::string> groups;        // group external ids
  std::optional<std::string> valid_from;  // normalised: RFC 3339 in UTC; nullopt: unset
  std::optional<std::string> valid_until;
};

struct BadLine {
  int line = 0;
  std::string external_id;  // when it could be read
  std::string message;      // "bad CSV line 7: 5 fields, the header has 6"
};

struct ImportCsv {
  std::vector<std::string> header;  // as written
  std::vector<ImportRow> rows;      // in file order
  std::vector<BadLine> bad_lines;   // in file order
  std::vector<std::string> warnings;
  size_t records() const { return rows.size() + bad_lines.size(); }  // data records
};

// Parses the whole CSV. An error only for a file that cannot be an import at all (empty, no
// external_id or photo column, a column twice); bad records are bad_lines.
Result<ImportCsv> ParseImportCsv(std::string_view text);

// A validity bound: RFC 3339 or YYYY-MM-DD (see above; `end_of_day` for valid_until) to RFC
// 3339 in UTC; nullopt when it is neither or not a real date.
std::optional<std::string> NormalizeValidity(std::string_view text, bool end_of_day);

}  // namespace facegate::app::import
