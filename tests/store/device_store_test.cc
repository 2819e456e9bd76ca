// Devices in the store: lookups, status and door, heartbeats and the offline sweep,
// commissioning codes (hash only, single use, expiry, superseded), certificates (current,
// replaced, revoked), and commands delivered once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "facegate/store/commissioning.h"
#include "facegate/store/store.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeOptions;
using ::testing::MatchesRegex;
using testing::RawDb;

constexpr std::string_view kSecret = "0123456789abcdef-server-secret";

class DeviceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  int64_t AddDevice(const std::string& name, std::optional<int64_t> door_id = std::nullopt) {
    NewDevice d;
    d.name = name;
    d.door_id = door_id;
    auto id = store_->AddDevice(d);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  Device Get(int64_t device_id) {
    auto d = store_->GetDevice(device_id);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : Device{};
  }

  std::string Hash(const std::string& code) {
    auto h = HashCommissioningCode(code, kSecret);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : std::string();
  }

  // A fresh code for the device, valid for `validity`; returns the code as shown.
  std::string NewCode(int64_t device_id, minutes validity = minutes(15)) {
    auto code = GenerateCommissioningCode();
    EXPECT_TRUE(code.ok());
    NewCommissioningCode c;
    c.device_id = device_id;
    c.code_hash = Hash(*code);
    c.expires_at = clock_.Now() + validity;
    auto id = store_->CreateCommissioningCode(c);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return *code;
  }

  Result<RedeemedCommissioningCode> Redeem(const std::string& code) {
    return store_->RedeemCommissioningCode(Hash(code), clock_.Now());
  }

  Result<std::optional<std::string>> RecordCert(int64_t device_id, const std::string& serial,
                                                hours validity = hours(24 * 90)) {
    DeviceCertificate c;
    c.device_id = device_id;
    c.serial_hex = serial;
    c.not_after = clock_.Now() + validity;
    return store_->RecordDeviceCertificate(c);
  }

  DeviceCertificateState StateOf(const std::string& serial) {
    auto found = store_->FindDeviceByCertificateSerial(serial);
    EXPECT_TRUE(found.ok()) << serial << ": " << found.status().ToString();
    return found.ok() ? found->state : DeviceCertificateState::kCurrent;
  }

  int64_t Queue(int64_t device_id, const std::string& command,
                std::optional<WallTime> expires_at = std::nullopt,
                const std::string& payload = "{}") {
    NewDeviceCommand c;
    c.device_id = device_id;
    c.command = command;
    c.payload_json = payload;
    c.origin = "admin:test";
    c.expires_at = expires_at;
    auto id = store_->QueueDeviceCommand(c);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  std::vector<int64_t> Take(int64_t device_id, int limit = 10) {
    auto taken = store_->TakePendingDeviceCommands(device_id, clock_.Now(), limit);
    EXPECT_TRUE(taken.ok()) << taken.status().ToString();
    std::vector<int64_t> ids;
    if (taken.ok()) {
      for (const DeviceCommand& c : *taken) {
        EXPECT_EQ(c.delivered_at, clock_.Now());
        ids.push_back(c.id);
      }
    }
    return ids;
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

// ---------------------------------------------------------------- devices

TEST_F(DeviceStoreTest, GetFindAndListDevices) {
  auto door = store_->UpsertDoor(Door{0, "D1", "Front", "{}", RecordSource::kLocal});
  ASSERT_TRUE(door.ok()) << door.status().ToString();
  const int64_t a = AddDevice("lobby", *door);
  const int64_t b = AddDevice("garage");
  const int64_t c = AddDevice("roof");

  Device d = Get(a);
  EXPECT_EQ(d.id, a);
  EXPECT_EQ(d.name, "lobby");
  EXPECT_EQ(d.door_id, *door);
  EXPECT_EQ(d.status, DeviceStatus::kCreated);
  EXPECT_FALSE(d.online);
  EXPECT_FALSE(d.last_seen_at);
  EXPECT_FALSE(d.cert_serial);
  EXPECT_FALSE(d.cert_revoked);
  EXPECT_EQ(d.settings_json, "{}");
  EXPECT_EQ(d.created_at, clock_.Now());

  auto by_name = store_->FindDeviceByName("garage");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(by_name->id, b);
  EXPECT_FALSE(by_name->door_id);

  auto missing = store_->GetDevice(999);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindDeviceByName("nope").status().code(), StatusCode::kNotFound);

  auto page1 = store_->ListDevices(0, 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].id, a);
  EXPECT_EQ((*page1)[1].id, b);
  auto page2 = store_->ListDevices(page1->back().id, 2);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 1u);
  EXPECT_EQ((*page2)[0].id, c);
  auto page3 = store_->ListDevices(c, 2);
  ASSERT_TRUE(page3.ok());
  EXPECT_TRUE(page3->empty());

  EXPECT_EQ(DeviceStatusName(DeviceStatus::kDecommissioned), "decommissioned");
  EXPECT_EQ(ParseDeviceStatus("disabled"), DeviceStatus::kDisabled);
  EXPECT_FALSE(ParseDeviceStatus("bogus"));
}

TEST_F(DeviceStoreTest, StatusAndDoor) {
  const int64_t id = AddDevice("lobby");
  for (DeviceStatus s : {DeviceStatus::kCommissioned, DeviceStatus::kDisabled,
                         DeviceStatus::kDecommissioned, DeviceStatus::kCreated}) {
    clock_.Advance(seconds(1));
    ASSERT_TRUE(store_->SetDeviceStatus(id, s).ok());
    Device d = Get(id);
    EXPECT_EQ(d.status, s);
    EXPECT_EQ(d.updated_at, clock_.Now());
  }
  EXPECT_EQ(store_->SetDeviceStatus(42, DeviceStatus::kDisabled).code(), StatusCode::kNotFound);

  auto door = store_->UpsertDoor(Door{0, "D7", "Back", "{}", RecordSource::kLocal});
  ASSERT_TRUE(door.ok()) << door.status().ToString();
  ASSERT_TRUE(store_->SetDeviceDoor(id, *door).ok());
  EXPECT_EQ(Get(id).door_id, *door);
  Status no_door = store_->SetDeviceDoor(id, 12345);
  EXPECT_EQ(no_door.code(), StatusCode::kNotFound);
  EXPECT_THAT(no_door.message(), HasSubstr("door"));
  EXPECT_EQ(Get(id).door_id, *door);  // unchanged
  ASSERT_TRUE(store_->SetDeviceDoor(id, std::nullopt).ok());
  EXPECT_FALSE(Get(id).door_id);
  Status no_device = store_->SetDeviceDoor(777, std::nullopt);
  EXPECT_EQ(no_device.code(), StatusCode::kNotFound);
  EXPECT_THAT(no_device.message(), HasSubstr("device"));
}

TEST_F(DeviceStoreTest, HeartbeatsAndOfflineSweepWithFakeClock) {
  const int64_t a = AddDevice("a");
  const int64_t b = AddDevice("b");
  const int64_t never = AddDevice("never-seen");

  auto first = store_->RecordDeviceHeartbeat(a, clock_.Now(), "1.2.3");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(*first);  // came online
  Device d = Get(a);
  EXPECT_TRUE(d.online);
  EXPECT_EQ(d.last_seen_at, clock_.Now());
  EXPECT_EQ(d.firmware, "1.2.3");
  auto second = store_->RecordDeviceHeartbeat(a, clock_.Now(), "1.2.4");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);  // was online already
  EXPECT_EQ(Get(a).firmware, "1.2.4");

  const WallTime a_seen = clock_.Now();
  clock_.Advance(minutes(3));
  ASSERT_TRUE(store_->RecordDeviceHeartbeat(b, clock_.Now(), "2.0").ok());
  // A late, out-of-order heartbeat of a does not move its last_seen back.
  ASSERT_TRUE(store_->RecordDeviceHeartbeat(a, a_seen - minutes(1), "1.2.4").ok());
  EXPECT_EQ(Get(a).last_seen_at, a_seen);

  // Not seen for 2 minutes: a goes offline, b stays, never-seen was never online.
  auto offline = store_->MarkDevicesOffline(clock_.Now() - minutes(2));
  ASSERT_TRUE(offline.ok()) << offline.status().ToString();
  EXPECT_THAT(*offline, ElementsAre(a));
  EXPECT_FALSE(Get(a).online);
  EXPECT_TRUE(Get(b).online);
  EXPECT_FALSE(Get(never).online);
  // Reported once: the next sweep finds nothing new.
  auto again = store_->MarkDevicesOffline(clock_.Now() - minutes(2));
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again, IsEmpty());

  clock_.Advance(minutes(5));
  auto both = store_->MarkDevicesOffline(clock_.Now() - minutes(2));
  ASSERT_TRUE(both.ok());
  EXPECT_THAT(*both, ElementsAre(b));

  auto back = store_->RecordDeviceHeartbeat(a, clock_.Now(), "1.2.4");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back);  // back online
  EXPECT_EQ(store_->RecordDeviceHeartbeat(999, clock_.Now(), "x").status().code(),
            StatusCode::kNotFound);
}

TEST_F(DeviceStoreTest, DeleteDeviceTakesItsCertificatesCodesAndCommands) {
  const int64_t id = AddDevice("gone");
  const int64_t kept = AddDevice("kept");
  ASSERT_TRUE(RecordCert(id, "0A1B2C").ok());
  std::string code = NewCode(id);
  Queue(id, "reboot");
  ASSERT_TRUE(store_->DeleteDevice(id).ok());
  EXPECT_EQ(store_->GetDevice(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindDeviceByCertificateSerial("0A1B2C").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Redeem(code).status().code(), StatusCode::kNotFound);
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT count(*) FROM device_commands"), "0");
  EXPECT_EQ(raw.One("SELECT count(*) FROM commissioning_codes"), "0");
  EXPECT_EQ(store_->DeleteDevice(id).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetDevice(kept).ok());
}

// ---------------------------------------------------------------- commissioning codes

TEST(CommissioningCodeTest, GenerateNormalizeAndHash) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto code = GenerateCommissioningCode();
    ASSERT_TRUE(code.ok());
    EXPECT_THAT(*code, MatchesRegex("[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"));
    seen.insert(*code);
  }
  EXPECT_EQ(seen.size(), 200u);

  auto canonical = NormalizeCommissioningCode(" abcde - fghjk ");
  ASSERT_TRUE(canonical.ok()) << canonical.status().ToString();
  EXPECT_EQ(*canonical, "ABCDEFGHJK");
  // Look-alikes read as what they look like.
  auto lookalike = NormalizeCommissioningCode("O0IL1-oilAB");
  ASSERT_TRUE(lookalike.ok());
  EXPECT_EQ(*lookalike, "00111011AB");
  for (const char* bad :
       {"", "ABCDE", "ABCDE-FGHJKM", "ABCDE-FGHJU", "ABCDE_FGHJK", "ABCDE-FGH\xc3"}) {
    auto r = NormalizeCommissioningCode(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }

  auto h1 = HashCommissioningCode("ABCDE-FGHJK", kSecret);
  auto h2 = HashCommissioningCode("abcdefghjk", kSecret);
  auto other_secret = HashCommissioningCode("ABCDE-FGHJK", "another-secret-of-16+");
  auto other_code = HashCommissioningCode("ABCDE-FGHJM", kSecret);
  ASSERT_TRUE(h1.ok() && h2.ok() && other_secret.ok() && other_code.ok());
  EXPECT_EQ(h1->size(), kCommissioningCodeHashBytes);
  EXPECT_EQ(*h1, *h2);
  EXPECT_NE(*h1, *other_secret);
  EXPECT_NE(*h1, *other_code);
  auto short_secret = HashCommissioningCode("ABCDE-FGHJK", "short");
  EXPECT_EQ(short_secret.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HashCommissioningCode("nope", kSecret).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(DeviceStoreTest, CodeIsRedeemedOnceAndOnlyItsHashIsStored) {
  const int64_t id = AddDevice("lobby");
  const std::string code = NewCode(id);

  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.Blob("SELECT code_hash FROM commissioning_codes"), Hash(code));
  const std::string canonical = code.substr(0, 5) + code.substr(6);
  for (const std::string& form : {code, canonical}) {
    EXPECT_FALSE(testing::FileContains(options_.db_file, form));
    EXPECT_FALSE(testing::FileContains(options_.db_file.string() + "-wal", form));
  }

  clock_.Advance(minutes(1));
  // As typed by a person: lower case, no hyphen.
  std::string typed = canonical;
  for (char& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto redeemed = Redeem(typed);
  ASSERT_TRUE(redeemed.ok()) << redeemed.status().ToString();
  EXPECT_EQ(redeemed->device.id, id);
  EXPECT_EQ(redeemed->device.name, "lobby");
  EXPECT_GT(redeemed->code_id, 0);
  EXPECT_EQ(raw.One("SELECT used_at_ms FROM commissioning_codes"),
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               clock_.Now().time_since_epoch())
                               .count()));

  auto reused = Redeem(code);
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(reused.status().message(), "commissioning code already used");
  // Still "used" once it would have expired.
  clock_.Advance(hours(1));
  EXPECT_EQ(Redeem(code).status().message(), "commissioning code already used");

  auto unknown = Redeem("ZZZZZ-ZZZZZ");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "unknown commissioning code");
  EXPECT_EQ(store_->RedeemCommissioningCode("short", clock_.Now()).status().code(),
            StatusCode::kNotFound);
}

TEST_F(DeviceStoreTest, CodeExpires) {
  const int64_t id = AddDevice("lobby");
  const std::string code = NewCode(id, minutes(10));
  clock_.Advance(minutes(10));  // expiry is exclusive
  auto expired = Redeem(code);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(expired.status().message(), "commissioning code expired");
  // An expired code is not consumed by the attempt: it stays expired, not "used".
  EXPECT_EQ(Redeem(code).status().message(), "commissioning code expired");
}

TEST_F(DeviceStoreTest, NewCodeSupersedesEarlierUnusedCodes) {
  const int64_t id = AddDevice("lobby");
  const int64_t other = AddDevice("garage");
  const std::string first = NewCode(id);
  const std::string other_code = NewCode(other);
  clock_.Advance(seconds(30));
  const std::string second = NewCode(id);
  EXPECT_EQ(Redeem(first).status().message(), "commissioning code expired");
  auto ok = Redeem(second);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->device.id, id);
  // Another device's code is untouched.
  auto other_ok = Redeem(other_code);
  ASSERT_TRUE(other_ok.ok()) << other_ok.status().ToString();
  EXPECT_EQ(other_ok->device.id, other);
  // A used code stays "used" when a newer one is made.
  NewCode(id);
  EXPECT_EQ(Redeem(second).status().message(), "commissioning code already used");
}

TEST_F(DeviceStoreTest, CreateCodeRefusesBadInput) {
  const int64_t id = AddDevice("lobby");
  NewCommissioningCode c;
  c.device_id = id;
  c.code_hash = Hash("ABCDE-FGHJK");
  c.expires_at = clock_.Now();
  EXPECT_EQ(store_->CreateCommissioningCode(c).status().code(), StatusCode::kInvalidArgument);
  c.expires_at = clock_.Now() + minutes(5);
  c.code_hash = "not 32 bytes";
  EXPECT_EQ(store_->CreateCommissioningCode(c).status().code(), StatusCode::kInvalidArgument);
  c.code_hash = Hash("ABCDE-FGHJK");
  c.device_id = 999;
  EXPECT_EQ(store_->CreateCommissioningCode(c).status().code(), StatusCode::kNotFound);
  c.device_id = id;
  ASSERT_TRUE(store_->CreateCommissioningCode(c).ok());
  EXPECT_EQ(store_->CreateCommissioningCode(c).status().code(), StatusCode::kAlreadyExists);
}

TEST_F(DeviceStoreTest, ConcurrentRedemptionsOfOneCodeSucceedOnce) {
  const int64_t id = AddDevice("lobby");
  const std::string hash = Hash(NewCode(id));
  std::atomic<int> successes{0};
  std::atomic<int> used{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = store_->RedeemCommissioningCode(hash, clock_.Now());
      if (r.ok()) {
        ++successes;
      } else if (r.status().message() == "commissioning code already used") {
        ++used;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(used.load(), 7);
}

// ---------------------------------------------------------------- certificates

TEST_F(DeviceStoreTest, RecommissioningReplacesAndDecommissioningRevokes) {
  const int64_t id = AddDevice("lobby");
  auto first = RecordCert(id, "00AA11", hours(24 * 90));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(*first);  // nothing replaced
  Device d = Get(id);
  EXPECT_EQ(d.status, DeviceStatus::kCommissioned);
  EXPECT_EQ(d.cert_serial, "00AA11");
  EXPECT_EQ(d.cert_not_after, clock_.Now() + hours(24 * 90));
  EXPECT_FALSE(d.cert_revoked);

  auto current = store_->FindDeviceByCertificateSerial("00aa11");  // case does not matter
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  EXPECT_EQ(current->state, DeviceCertificateState::kCurrent);
  EXPECT_EQ(current->device.id, id);
  EXPECT_EQ(current->certificate.serial_hex, "00AA11");
  EXPECT_EQ(current->certificate.device_name, "lobby");
  EXPECT_EQ(current->certificate.issued_at, clock_.Now());
  EXPECT_FALSE(current->certificate.revoked_at);

  // Re-commissioning (or renewal): the new one is current, the old one replaced, at once.
  clock_.Advance(hours(1));
  auto second = RecordCert(id, "BB22CC");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, "00AA11");
  EXPECT_EQ(StateOf("BB22CC"), DeviceCertificateState::kCurrent);
  EXPECT_EQ(StateOf("00AA11"), DeviceCertificateState::kReplaced);
  auto certs = store_->ListDeviceCertificates(id);
  ASSERT_TRUE(certs.ok());
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[0].serial_hex, "BB22CC");  // newest first
  EXPECT_FALSE((*certs)[0].revoked_at);
  EXPECT_EQ((*certs)[1].serial_hex, "00AA11");
  EXPECT_EQ((*certs)[1].revoked_at, clock_.Now());

  // Decommissioning: every certificate revoked, the device decommissioned and offline.
  ASSERT_TRUE(store_->RecordDeviceHeartbeat(id, clock_.Now(), "1.0").ok());
  clock_.Advance(hours(1));
  auto revoked = store_->RevokeDeviceCertificates(id);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 1);  // 00AA11 was revoked already
  EXPECT_EQ(StateOf("BB22CC"), DeviceCertificateState::kRevoked);
  EXPECT_EQ(StateOf("00AA11"), DeviceCertificateState::kReplaced);
  d = Get(id);
  EXPECT_EQ(d.status, DeviceStatus::kDecommissioned);
  EXPECT_TRUE(d.cert_revoked);
  EXPECT_FALSE(d.online);
  auto again = store_->RevokeDeviceCertificates(id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);

  // Commissioned again later: a revoked certificate is not "replaced" by the new one.
  auto third = RecordCert(id, "DD33EE");
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(*third);
  EXPECT_EQ(StateOf("DD33EE"), DeviceCertificateState::kCurrent);
  EXPECT_EQ(StateOf("BB22CC"), DeviceCertificateState::kReplaced);
  EXPECT_EQ(Get(id).status, DeviceStatus::kCommissioned);
  EXPECT_FALSE(Get(id).cert_revoked);

  auto unknown = store_->FindDeviceByCertificateSerial("123456");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown"));
  EXPECT_EQ(store_->FindDeviceByCertificateSerial("not hex").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->RevokeDeviceCertificates(999).status().code(), StatusCode::kNotFound);
}

TEST_F(DeviceStoreTest, RecordCertificateChecksItsInput) {
  const int64_t id = AddDevice("lobby");
  const int64_t other = AddDevice("garage");
  ASSERT_TRUE(RecordCert(id, "ABCDEF").ok());
  // A serial is unique across devices and time.
  EXPECT_EQ(RecordCert(other, "abcdef").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(RecordCert(id, "ABCDEF").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(RecordCert(id, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RecordCert(id, "XYZ").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RecordCert(999, "0102").status().code(), StatusCode::kNotFound);
  // The failed attempts changed nothing.
  EXPECT_EQ(StateOf("ABCDEF"), DeviceCertificateState::kCurrent);
  EXPECT_EQ(Get(other).status, DeviceStatus::kCreated);

  // A disabled device gets its certificate but stays disabled.
  ASSERT_TRUE(store_->SetDeviceStatus(other, DeviceStatus::kDisabled).ok());
  ASSERT_TRUE(RecordCert(other, "0F0F").ok());
  EXPECT_EQ(Get(other).status, DeviceStatus::kDisabled);
  EXPECT_EQ(store_->ListDeviceCertificates(999).status().code(), StatusCode::kNotFound);
}

TEST_F(DeviceStoreTest, CertificatesExpiringBefore) {
  const int64_t a = AddDevice("a");
  const int64_t b = AddDevice("b");
  const int64_t c = AddDevice("c");
  ASSERT_TRUE(RecordCert(a, "0A", hours(24 * 10)).ok());
  ASSERT_TRUE(RecordCert(b, "0B", hours(24 * 5)).ok());
  ASSERT_TRUE(RecordCert(c, "0C", hours(24 * 100)).ok());
  ASSERT_TRUE(RecordCert(a, "1A", hours(24 * 1)).ok());  // replaces 0A
  ASSERT_TRUE(store_->RevokeDeviceCertificates(b).ok());

  auto soon = store_->ListCertificatesExpiringBefore(clock_.Now() + hours(24 * 30));
  ASSERT_TRUE(soon.ok()) << soon.status().ToString();
  ASSERT_EQ(soon->size(), 1u);  // 0A replaced, 0B revoked, 0C later
  EXPECT_EQ((*soon)[0].serial_hex, "1A");
  EXPECT_EQ((*soon)[0].device_name, "a");

  auto all = store_->ListCertificatesExpiringBefore(clock_.Now() + hours(24 * 365));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].serial_hex, "1A");  // soonest first
  EXPECT_EQ((*all)[1].serial_hex, "0C");
  // Already expired ones are included.
  clock_.Advance(hours(24 * 2));
  auto expired = store_->ListCertificatesExpiringBefore(clock_.Now());
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].serial_hex, "1A");
}

// ---------------------------------------------------------------- commands

TEST_F(DeviceStoreTest, CommandsAreDeliveredOnceAndCompleted) {
  const int64_t id = AddDevice("lobby");
  const int64_t other = AddDevice("garage");
  const int64_t reboot = Queue(id, "reboot", std::nullopt, R"({"delay_s":5})");
  const int64_t stale = Queue(id, "config", clock_.Now() + minutes(1));
  const int64_t decommission = Queue(id, "decommission");
  const int64_t others = Queue(other, "reboot");

  clock_.Advance(minutes(2));  // `stale` expired undelivered
  auto taken = store_->TakePendingDeviceCommands(id, clock_.Now(), 10);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  ASSERT_EQ(taken->size(), 2u);
  EXPECT_EQ((*taken)[0].id, reboot);
  EXPECT_EQ((*taken)[0].command, "reboot");
  EXPECT_EQ((*taken)[0].payload_json, R"({"delay_s":5})");
  EXPECT_EQ((*taken)[0].origin, "admin:test");
  EXPECT_EQ((*taken)[0].device_id, id);
  EXPECT_EQ((*taken)[0].delivered_at, clock_.Now());
  EXPECT_FALSE((*taken)[0].completed_at);
  EXPECT_EQ((*taken)[1].id, decommission);
  // Once only.
  EXPECT_THAT(Take(id), IsEmpty());
  auto stale_cmd = store_->GetDeviceCommand(stale);
  ASSERT_TRUE(stale_cmd.ok() && stale_cmd->has_value());
  EXPECT_FALSE((*stale_cmd)->delivered_at);

  // Completion: by the device it was for, once, with a JSON result.
  EXPECT_EQ(store_->CompleteDeviceCommand(other, reboot, "{}").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CompleteDeviceCommand(id, reboot, "not json").code(),
            StatusCode::kInvalidArgument);
  clock_.Advance(seconds(10));
  ASSERT_TRUE(store_->CompleteDeviceCommand(id, reboot, R"({"ok":true})").ok());
  auto done = store_->GetDeviceCommand(reboot);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->completed_at, clock_.Now());
  EXPECT_EQ((*done)->result_json, R"({"ok":true})");
  Status twice = store_->CompleteDeviceCommand(id, reboot, "{}");
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.message(), HasSubstr("completed already"));
  Status undelivered = store_->CompleteDeviceCommand(other, others, "{}");
  EXPECT_EQ(undelivered.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(undelivered.message(), HasSubstr("not been delivered"));
  EXPECT_FALSE(store_->GetDeviceCommand(424242)->has_value());

  // The other device's command waited for it.
  EXPECT_THAT(Take(other), ElementsAre(others));
}

TEST_F(DeviceStoreTest, TakeRespectsTheLimitAndQueueChecksItsInput) {
  const int64_t id = AddDevice("lobby");
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Queue(id, "cmd" + std::to_string(i)));
  EXPECT_THAT(Take(id, 2), ElementsAre(ids[0], ids[1]));
  EXPECT_THAT(Take(id, 0), IsEmpty());
  EXPECT_THAT(Take(id, 10), ElementsAre(ids[2], ids[3], ids[4]));

  NewDeviceCommand c;
  c.device_id = id;
  c.command = "";
  EXPECT_EQ(store_->QueueDeviceCommand(c).status().code(), StatusCode::kInvalidArgument);
  c.command = "config";
  c.payload_json = "{not json";
  EXPECT_EQ(store_->QueueDeviceCommand(c).status().code(), StatusCode::kInvalidArgument);
  c.payload_json = "{}";
  c.expires_at = clock_.Now();
  EXPECT_EQ(store_->QueueDeviceCommand(c).status().code(), StatusCode::kInvalidArgument);
  c.expires_at.reset();
  c.device_id = 999;
  EXPECT_EQ(store_->QueueDeviceCommand(c).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace facegate::store
