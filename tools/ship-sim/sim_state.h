// The Salto Space simulator's data and its SHIP request handling, without sockets
// (docs/ship-sim.md). SimState holds users, doors, groups and time-zone tables, answers SHIP
// RequestCalls the way Space does (paging, EOF, Exceptions), records every door opening asked
// and applies the fault a test has set. The listeners (sim_server.h) only move bytes: what a
// request gets back is decided here, so it can be tested without a network.
// Thread-safety: SimState may be used from several threads at once; the free functions are
// thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "facegate/ship/client.h"
#include "facegate/ship/message.h"

namespace facegate::shipsim {

// What the simulated Space server holds, keyed (and so sorted) by external id.
struct SimData {
  std::map<std::string, ship::SpaceUser> users;
  std::map<std::string, ship::SpaceDoor> doors;
  std::map<std::string, ship::SpaceGroup> groups;
  std::map<std::string, ship::SpaceTimezoneTable> timezones;
  // The ErrorCode OnlineDoor.Open answers for these doors (known or not) instead of 0 / 100.
  std::map<std::string, int> door_errors;
};

// The data file (docs/ship-sim.md). kInvalidArgument naming the source and the field, e.g.
// "data.json: users[2].activation: expected yyyy-MM-ddTHH:mm:ss or null, got '2026-13-01'".
Result<SimData> ParseSimData(std::string_view json_text, std::string_view source);
Result<SimData> LoadSimData(const std::filesystem::path& file);

// One user as the data file and PUT /_sim/users/{id} write it; `where` prefixes errors.
Result<ship::SpaceUser> UserFromJson(const nlohmann::json& user, const std::string& where);

// ---------------------------------------------------------------- faults

enum class FaultMode {
  kNone,
  kUnauthorized,      // 401 (HTTPS) / Exception 401 (STP, which has no authentication)
  kHang,              // read the request, never answer
  kDrop,              // close the connection once the request is read
  kMalformed,         // the answer cut in half: broken XML
  kException,         // a SHIP Exception with `code`
  kWrongContentType,  // an HTML page instead of SHIP XML
  kOversized,         // a valid-looking XML answer of `bytes` bytes
  kSlow,              // the real answer after `delay_ms`
  kDown,              // listeners and connections closed for `seconds`
};

std::string_view FaultModeName(FaultMode mode);
Result<FaultMode> ParseFaultMode(std::string_view name);

struct Fault {
  FaultMode mode = FaultMode::kNone;
  int code = 500;
  size_t bytes = 8u << 20;
  std::chrono::milliseconds delay{2000};
  std::chrono::seconds seconds{5};
  std::string only;  // a request name: the fault applies to it alone; "": to every request

  bool AppliesTo(std::string_view request_name) const;
  nlohmann::json ToJson() const;
};

inline constexpr size_t kMaxOversizedBytes = 512u << 20;

// The body of POST /_sim/fault: {"mode":..,"code":..,"bytes":..,"delay_ms":..,"seconds":..,
// "only":..}, absent fields at their defaults.
Result<Fault> FaultFromJson(const nlohmann::json& body);

// ---------------------------------------------------------------- requests

// A SHIP request as read from the wire: its name ("Unknown" when it cannot be told) and the
// call, or why the XML could not be read.
struct ShipRequest {
  std::string name;
  std::optional<ship::RequestCall> call;
  Status error;  // set when `call` is empty
};

// What the listener does with one SHIP request.
struct Served {
  enum class Action {
    kAnswer,        // send `body` (after `delay`)
    kUnauthorized,  // refuse it as unauthenticated
    kHang,          // never answer; hold the connection
    kDrop,          // close the connection
  };
  Action action = Action::kAnswer;
  std::string request_name;
  std::string body;
  bool html = false;  // `body` is text/html, not SHIP XML
  std::chrono::milliseconds delay{0};
  std::string result;  // for the log: "ok", "exception 502", "fault hang", ...
};

// One OnlineDoor.Open of one door, answered or not.
struct Opening {
  std::string door;
  int64_t at_ms = 0;      // wall clock, milliseconds since the Unix epoch
  std::string transport;  // "https" or "stp"
  int error_code = 0;     // what the per-door answer said
  int64_t event_id = 0;   // in the audit trail; 0: not in it (the door did not open)
};

struct UserGenerateSpec {
  int count = 0;
  std::string prefix = "U";
  int first = 1;
  std::vector<ship::SpaceUser::DoorPermission> doors;
  std::vector<std::string> groups;
};

inline constexpr int kMaxGeneratedUsers = 1000000;

// The body of POST /_sim/users/generate.
Result<UserGenerateSpec> UserGenerateSpecFromJson(const nlohmann::json& body);

class SimState {
 public:
  explicit SimState(SimData data, const Clock& clock = SystemClock::Instance());

  // Reads a SHIP RequestCall and counts it in the statistics under its name.
  ShipRequest ReadRequest(std::string_view xml);

  // The answer Space would give (an Exception for an unknown request, a bad parameter or
  // XML that could not be read); door openings are recorded. `transport`: "https", "stp".
  std::string Answer(const ShipRequest& request, std::string_view transport);

  // ReadRequest, the current fault, then Answer when the fault lets the request be acted on:
  // every fault but `unauthorized` and `exception` acts on the request before spoiling the
  // answer (a hung OnlineDoor.Open has opened the door), so a test can tell what was asked.
  Served Serve(std::string_view xml, std::string_view transport);

  // Faults: `down` is the listeners' business; here it only reads as set.
  void SetFault(Fault fault);
  Fault fault() const;
  // The fault for a request of that name (mode kNone when there is none or it is for another).
  Fault FaultFor(std::string_view request_name) const;

  // Creates or replaces a user; removes one (false when there was none).
  void PutUser(ship::SpaceUser user);
  bool DeleteUser(const std::string& ext_user_id);
  // Adds (or replaces) spec.count users prefix00001.., zero-padded so they sort in order.
  void GenerateUsers(const UserGenerateSpec& spec);

  std::vector<Opening> openings() const;
  void ClearOpenings();  // event ids go on growing, as an audit trail's do

  void CountUnauthorized();
  // {"requests":{"GetInfo":3,..},"users":N,"doors":N,...,"unauthorized":N,"fault":{..}}
  nlohmann::json StatsJson() const;
  nlohmann::json OpeningsJson() const;
  size_t user_count() const;

 private:
  ship::RequestResponse Respond(const ShipRequest& request, std::string_view transport);
  ship::Element GetInfo() const;
  Result<ship::Element> ReadList(const ship::RequestCall& call) const;
  Result<ship::Element> OpenDoors(const ship::RequestCall& call, std::string_view transport);
  Result<ship::Element> ReadAuditTrail(const ship::RequestCall& call) const;

  const Clock& clock_;
  mutable std::mutex mu_;
  SimData data_;
  Fault fault_;
  std::vector<Opening> openings_;
  int64_t next_event_id_ = 1;
  std::map<std::string, int64_t> request_counts_;
  int64_t unauthorized_ = 0;
};

// Shared with the tests: SHIP's local-time form of a wall-clock time.
std::string LocalDateTimeText(Clock::WallTime t);

}  // namespace facegate::shipsim
