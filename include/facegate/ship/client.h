// ship::Client: the SHIP requests Facegate makes of Salto Space, typed (docs/ship.md). Each
// builds a RequestCall (message.h), sends it over a Transport (transport.h) and reads the
// RequestResponse; an <Exception> becomes a Status (StatusOf). Adding a request touches
// neither the transport nor the envelope code.
//
// Reads (GetInfo and the list reads) are idempotent and retried on kUnavailable and
// kDeadlineExceeded, a bounded number of times with a growing pause, inside their deadline.
// OnlineDoor.Open is sent exactly once and never retried: an opening that comes late is
// worse than none (the caller decides what a failure means; see the decision sender).
// Thread-safety: all methods may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "facegate/ship/message.h"
#include "facegate/ship/transport.h"

namespace facegate::ship {

struct SpaceInfo {
  std::string protocol_id;                 // "SHIP"
  std::string protocol_version;            // "1.23"
  std::optional<LocalDateTime> date_time;  // the Space server's clock
};

// One user of Salto Space (SaltoDBUser).
struct SpaceUser {
  struct DoorPermission {
    std::string ext_door_id;
    std::string ext_timezone_table_id;  // "": at any time
  };
  std::string ext_user_id;
  std::string first_name, last_name;
  std::optional<LocalDateTime> activation;  // UserActivation; none: valid since ever
  std::optional<LocalDateTime> expiration;  // UserExpiration, when UserExpiration.Enabled
  bool banned = false;                      // IsBanned
  std::vector<DoorPermission> doors;        // SaltoDB.AccessPermissionList.User_Door
  std::vector<std::string> groups;          // SaltoDB.MembershipList.User_Group
};

struct SpaceDoor {
  std::string ext_door_id;
  std::string name;
};

// An access group with its door permissions (SaltoDBGroup).
struct SpaceGroup {
  std::string ext_group_id;
  std::string name;
  std::vector<SpaceUser::DoorPermission> doors;  // SaltoDB.AccessPermissionList.Group_Door
};

// A time-zone table: weekly intervals, and intervals for holiday and special days.
struct SpaceTimezoneTable {
  struct Interval {
    int start_minute = 0;  // from 00:00
    int end_minute = 0;    // exclusive; 1440 for 24:00
    // ISO weekdays 1-7 (Monday..Sunday), 8 holiday, 9 special 1, 10 special 2.
    std::vector<int> days;
  };
  std::string ext_timezone_table_id;
  std::string name;
  std::vector<Interval> intervals;
};

// The answer for one door of OnlineDoor.Open: error_code 0 means it opened.
struct DoorOpenResult {
  std::string ext_door_id;
  int error_code = 0;
  std::string message;  // ErrorCodeText(error_code) unless Space said more
};

// One entry of SaltoDBAuditTrail.Read.
struct AuditEntry {
  int64_t event_id = 0;
  std::optional<LocalDateTime> date_time;
  int operation = 0;  // 103: opening not allowed, denied by host
  std::string ext_door_id;
  std::string ext_user_id;
};

struct AuditPage {
  std::vector<AuditEntry> entries;
  bool eof = true;
};

struct ClientOptions {
  std::chrono::milliseconds request_timeout{10000};  // each read request, retries included
  int read_attempts = 3;                             // 1: no retries
  std::chrono::milliseconds retry_pause{200};        // doubled after each retry
  int page_size = 500;                               // MaxCount of the list reads
  size_t max_users = 1000000;                        // a guard against endless paging
};

class Client {
 public:
  Client(std::unique_ptr<Transport> transport, ClientOptions options,
         const Clock& clock = SystemClock::Instance());

  // One raw request: the answer, or the failure (transport errors, an Exception as a
  // Status, an answer to another request). `idempotent`: may be retried inside the deadline.
  Result<RequestResponse> Call(const RequestCall& call, Clock::MonoTime deadline, bool idempotent);

  Result<SpaceInfo> GetInfo();

  // Every user, page by page (MaxCount, StartingFromExtUserID, until EOF). `on_page` gets
  // each page as it arrives; an error it returns stops the read.
  Status ReadUsers(const std::function<Status(std::vector<SpaceUser>)>& on_page);
  Result<std::vector<SpaceDoor>> ReadDoors();
  Result<std::vector<SpaceGroup>> ReadGroups();
  Result<std::vector<SpaceTimezoneTable>> ReadTimezoneTables();

  // Opens the doors now; one result per door asked, in the order asked. Never retried.
  Result<std::vector<DoorOpenResult>> OpenDoors(const std::vector<std::string>& ext_door_ids,
                                                Clock::MonoTime deadline);

  // Audit entries from `starting_from_event_id` (inclusive), at most `max_count`.
  Result<AuditPage> ReadAuditTrail(int64_t starting_from_event_id, int max_count);

  std::string Describe() const { return transport_->Describe(); }

 private:
  // Reads a list with MaxCount / StartingFrom<key> paging; `key_of` gives an item's key.
  Status ReadPaged(const std::string& request, const std::string& list_element,
                   const std::string& item_element, const std::string& start_param,
                   const std::string& key_element, Element extra_params,
                   const std::function<Status(std::vector<const Element*>)>& on_page);

  std::unique_ptr<Transport> transport_;
  ClientOptions options_;
  const Clock& clock_;
};

// The parsers behind the typed reads, for the simulator and the tests: one SHIP element to
// a value. kInvalidArgument naming the field that is missing or malformed.
Result<SpaceUser> ParseUser(const Element& user);
Result<SpaceTimezoneTable> ParseTimezoneTable(const Element& table);
// And back, as Space writes them.
Element UserElement(const SpaceUser& user);
Element TimezoneTableElement(const SpaceTimezoneTable& table);

}  // namespace facegate::ship
