// Black-box: the door terminals' device API (docs/device-api.md, THE contract) against the
// real facegated binary over real TLS on loopback.
//
// A site is set up the way an admin on the host would: `facegated --init`, then the test
// opens the same store (SQLite WAL lets the daemon and the test share it) and creates doors,
// users, rights, devices and commissioning codes; faces are enrolled by running the real face
// engine in the test process on crops of the demo photos. Terminals (testing/terminal.h)
// commission themselves and call the API with the certificate they got.
//
// Each TEST starts one daemon; the tests named *Face* enable the face engine (a start loads
// the models, a few seconds; ctest label "face"), the others leave it off so that they stay
// fast.
#include "facegate/api/device_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <latch>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "blackbox/demo_faces.h"
#include "blackbox/facegated_fixture.h"
#include "facegate/core/clock.h"
#include "facegate/core/files.h"
#include "facegate/core/time_format.h"
#include "facegate/face/face_engine.h"
#include "facegate/face/matching.h"
#include "facegate/net/pki.h"
#include "facegate/store/commissioning.h"
#include "facegate/store/store.h"
#include "testing/fake_clock.h"
#include "testing/mosquitto_process.h"
#include "testing/ship_sim_process.h"
#include "testing/terminal.h"

namespace facegate::testing {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// ------------------------------------------------------------------ replies

json BodyOf(const HttpReply& r) { return json::parse(r.body, nullptr, false); }

// "<status> <body>" or the transport error: what a failed expectation should show.
std::string Show(const Result<HttpReply>& r) {
  if (!r.ok()) return "no reply: " + r.status().ToString();
  return std::to_string(r->status) + " " + r->body;
}

// The reply is `status` with {"error": `code`}.
void ExpectError(const Result<HttpReply>& r, int status, const std::string& code) {
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, status) << r->body;
  json j = BodyOf(*r);
  ASSERT_TRUE(j.is_object()) << r->body;
  EXPECT_EQ(j.value("error", ""), code) << r->body;
  EXPECT_FALSE(j.value("message", "").empty()) << "every error says what to do: " << r->body;
}

// ------------------------------------------------------------------ images

uint32_t Crc32(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A PNG signature and a valid IHDR chunk for width x height, then nothing: a decompression
// bomb as a terminal could send it (the server must refuse it from the header alone).
std::string PngHeader(uint32_t width, uint32_t height) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string ihdr = "IHDR" + be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(Crc32(ihdr));
}

// The face engine in the test process (enrollment as an admin's tool does it), loaded once.
face::FaceEngine* TestEngine() {
  static std::once_flag once;
  static std::unique_ptr<face::FaceEngine> engine;
  std::call_once(once, [] {
    face::FaceOptions o;
    o.models_dir = ModelsDir();
    o.workers = 1;
    auto opened = face::FaceEngine::Open(o);
    if (!opened.ok()) {
      ADD_FAILURE() << "cannot load the models from " << ModelsDir()
                    << " (run scripts/setup): " << opened.status().ToString();
      return;
    }
    engine = std::move(opened).value();
  });
  return engine.get();
}

// The template of the one face in an encoded photo, as an enrollment accepts it.
Result<face::FaceTemplate> TemplateOfPhoto(std::string photo) {
  face::FaceEngine* engine = TestEngine();
  if (!engine) return Status::Unavailable("no face engine");
  face::AnalyzeRequest req;
  req.image = std::move(photo);
  req.priority = face::Priority::kEnrollment;
  req.start_deadline = SystemClock::Instance().Monotonic() + 60s;
  auto a = engine->Analyze(std::move(req));
  if (!a.ok()) return a.status();
  return a->AcceptedTemplate();
}

Result<face::FaceTemplate> TemplateOf(const DemoFace& f) { return TemplateOfPhoto(Capture(f)); }

// The admin token, as `facegated --init` printed it once.
std::string TokenFromInitOutput(const std::string& output) {
  const size_t at = output.find("fgt_");
  if (at == std::string::npos) return "";
  size_t end = at;
  while (end < output.size() && (std::isalnum(static_cast<unsigned char>(output[end])) ||
                                 output[end] == '_' || output[end] == '-')) {
    ++end;
  }
  return output.substr(at, end - at);
}

// The ISO weekday (1 = Monday) three days from today in UTC: never "today" in any time zone
// the daemon may run in (offsets move the local date by at most one day).
int WeekdayNotToday() {
  auto today =
      std::chrono::weekday(std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()));
  return static_cast<int>((today.iso_encoding() + 2) % 7 + 1);
}

// ------------------------------------------------------------------ the site

class DeviceApiTest : public ::testing::Test {
 protected:
  void EnableFace(const json& extra = json::object()) {
    json f = {{"enabled", true}, {"models_dir", ModelsDir().string()}};
    f.update(extra);
    daemon_.config()["face"] = f;
  }
  void SetDevices(const json& devices) { daemon_.config()["devices"] = devices; }

  // `facegated --init` (CA, keys, database, commissioning secret), then the store opened as
  // an admin's tool on the host opens it.
  void InitSite() {
    daemon_.WriteConfig();
    auto run = daemon_.Run({"--init", "--config", daemon_.config_path().string()});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_TRUE(run->exit.has_value() && run->exit->code == 0) << run->output;
    init_output_ = run->output;
    auto s = store::Store::Open(StoreOptions(), SystemClock::Instance());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto secret = api::LoadCommissioningSecret(daemon_.pki_dir() / "commissioning.secret", false);
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    secret_ = *secret;
    auto ca = net::InspectCertificatePem(daemon_.ca_pem());
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_fingerprint_ = ca->sha256_fingerprint_hex;
  }

  store::StoreOptions StoreOptions() const {
    store::StoreOptions o;
    o.db_file = daemon_.data_dir() / "facegate.db";
    o.key_dir = daemon_.data_dir() / "keys";
    return o;
  }

  void StartDaemon() {
    Status st = daemon_.Start(60s);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  store::Store& store() { return *store_; }

  int64_t AddDoor(const std::string& external_id, const std::string& name) {
    store::Door d;
    d.external_id = external_id;
    d.name = name;
    auto id = store_->UpsertDoor(d);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  int64_t AddDevice(const std::string& name, std::optional<int64_t> door) {
    auto id = store_->AddDevice(store::NewDevice{name, door});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  int64_t AddUser(const std::string& external_id, const std::string& first, const std::string& last,
                  std::optional<Clock::WallTime> valid_until = std::nullopt) {
    store::User u;
    u.external_id = external_id;
    u.first_name = first;
    u.last_name = last;
    u.valid_until = valid_until;
    auto id = store_->UpsertUser(u);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  int64_t AddRight(int64_t user, int64_t door, std::optional<int64_t> schedule = std::nullopt) {
    store::AccessRight r;
    r.user_id = user;
    r.door_id = door;
    r.schedule_id = schedule;
    auto id = store_->CreateAccessRight(r);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  void Enroll(int64_t user, const DemoFace& face) {
    auto t = TemplateOf(face);
    ASSERT_TRUE(t.ok()) << "enrolling photo " << face.photo << " at " << face.cx << "," << face.cy
                        << ": " << t.status().ToString();
    ASSERT_NO_FATAL_FAILURE(AddTemplate(user, *t));
  }

  void EnrollPhoto(int64_t user, const std::filesystem::path& photo) {
    auto t = TemplateOfPhoto(ReadFileForTest(photo));
    ASSERT_TRUE(t.ok()) << "enrolling " << photo << ": " << t.status().ToString();
    ASSERT_NO_FATAL_FAILURE(AddTemplate(user, *t));
  }

  void AddTemplate(int64_t user, const face::FaceTemplate& t) {
    store::NewTemplate n;
    n.user_id = user;
    n.source = store::TemplateSource::kAdmin;
    n.model_version = std::string(face::kModelVersion);
    n.values = std::span<const float>(t.data(), t.size());
    auto id = store_->AddTemplate(n);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
  }

  // A one-time code as an admin gets it for the device (what the console shows).
  std::string IssueCode(int64_t device) {
    auto issued =
        api::IssueCommissioningCode(*store_, secret_, device, 1800, SystemClock::Instance(),
                                    "127.0.0.1", daemon_.device_port(), ca_fingerprint_);
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    if (!issued.ok()) return "";
    json qr = json::parse(issued->qr_payload, nullptr, false);
    EXPECT_EQ(qr.value("code", ""), issued->code);
    EXPECT_EQ(qr.value("ca_sha256", ""), ca_fingerprint_);
    EXPECT_EQ(qr.value("v", 0), 1);
    return issued->code;
  }

  Terminal NewTerminal() const {
    return Terminal("127.0.0.1", daemon_.device_port(), daemon_.ca_pem());
  }

  // A terminal that commissioned itself for `device` with a fresh code.
  Terminal Commissioned(int64_t device) {
    Terminal t = NewTerminal();
    auto r = t.Commission(IssueCode(device));
    EXPECT_TRUE(r.ok() && r->status == 200) << Show(r);
    EXPECT_EQ(t.device_id(), device);
    return t;
  }

  int64_t Events() {
    auto n = store_->CountEvents();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }

  // The reply is a decision (200) of `decision` for `reason`, and exactly one event row was
  // added for it (committed before the answer: no waiting). Returns the answer.
  json ExpectDecision(const Result<HttpReply>& r, const std::string& decision,
                      const std::string& reason) {
    const int64_t before = events_seen_;
    events_seen_ = Events();
    EXPECT_TRUE(r.ok() && r->status == 200) << Show(r);
    if (!r.ok()) return json();
    json j = BodyOf(*r);
    EXPECT_EQ(j.value("decision", ""), decision) << r->body;
    EXPECT_EQ(j.value("reason", ""), reason) << r->body;
    EXPECT_EQ(events_seen_, before + 1) << "one event row per decision: " << r->body;
    EXPECT_TRUE(j.contains("event_id") && j["event_id"].is_number_integer()) << r->body;
    EXPECT_TRUE(ParseRfc3339(j.value("server_time", "")).has_value()) << r->body;
    EXPECT_TRUE(j.contains("commands") && j["commands"].is_array()) << r->body;
    EXPECT_EQ(j.contains("user"), decision == "grant") << "user on a grant only: " << r->body;
    return j;
  }

  // Nothing was recorded since the last ExpectDecision or ExpectNoNewEvent.
  void ExpectNoNewEvent(const Result<HttpReply>& r) {
    EXPECT_EQ(Events(), events_seen_) << "not a decision, no event: " << Show(r);
  }

  store::StoredEvent Event(int64_t id) {
    auto e = store_->GetEvent(id);
    EXPECT_TRUE(e.ok() && e->has_value()) << "event " << id;
    return e.ok() && e->has_value() ? **e : store::StoredEvent{};
  }

  // Door D1; Ada (E1001) enrolled with the right for it, Bob (E1002) enrolled without.
  void AdaWithTheRightBobWithout(int64_t* door) {
    *door = AddDoor("D1", "Main entrance");
    const int64_t ada = AddUser("E1001", "Ada", "Lovelace");
    const int64_t bob = AddUser("E1002", "Bob", "Builder");
    AddRight(ada, *door);
    ASSERT_NO_FATAL_FAILURE(Enroll(ada, kAdaEnrolled));
    ASSERT_NO_FATAL_FAILURE(Enroll(bob, kBob));
  }

  // The unit's MemoryDenyWriteExecute=yes, applied as systemd applies it (tests/tools/
  // mdwe_exec.cc): the kernel's PR_SET_MDWE (systemd 254+, Ubuntu 24.04) or systemd 252's
  // seccomp filter (Debian 12). The wrapper's probe shows a writable+executable mapping is
  // refused; then the daemon and its libraries (OpenBLAS, dlib, OpenCV, OpenSSL, SQLite) run
  // the face pipeline under it and decide as without it.
  void ExpectFaceDecisionsUnderMemoryDenyWriteExecute(bool seccomp) {
    const std::string mdwe = (BinaryDir() / "tests" / "facegate-test-mdwe").string();
    std::vector<std::string> wrapper = {mdwe};
    if (seccomp) wrapper.push_back("--seccomp");
    std::vector<std::string> probe = wrapper;
    probe.push_back("--probe");
    auto probed = RunProcess(probe, daemon_.dir() / "probe.log", std::chrono::seconds(30));
    ASSERT_TRUE(probed.ok()) << probed.status().ToString();
    if (!seccomp && probed->exit && probed->exit->code == 2 &&
        probed->output.find("PR_SET_MDWE") != std::string::npos) {
      GTEST_SKIP() << "this kernel has no PR_SET_MDWE (Linux 6.3+): " << probed->output;
    }
    ASSERT_TRUE(probed->exit && probed->exit->code == 0) << probed->output;
    EXPECT_THAT(probed->output, HasSubstr("writable+executable mapping refused"));

    EnableFace({{"workers", 2}});
    ASSERT_NO_FATAL_FAILURE(InitSite());
    int64_t door = 0;
    ASSERT_NO_FATAL_FAILURE(AdaWithTheRightBobWithout(&door));
    const int64_t device = AddDevice("Lobby", door);
    wrapper.push_back("--");
    daemon_.launcher() = wrapper;
    ASSERT_NO_FATAL_FAILURE(StartDaemon());
    EXPECT_THAT(daemon_.log(), HasSubstr("MemoryDenyWriteExecute on"));
    Terminal t = Commissioned(device);
    ExpectDecision(t.Access(Capture(kAdaAtTheDoor, 80)), "grant", "granted");
    ExpectDecision(t.Access(Capture(kBob, 85)), "deny", "no_access_to_door");
    ExpectDecision(t.Access(Capture(kStranger, 90)), "deny", "unknown_face");
  }

  FacegatedUnderTest daemon_;
  std::unique_ptr<store::Store> store_;
  std::string secret_;
  std::string ca_fingerprint_;
  std::string init_output_;  // facegated --init's output: the first admin token
  int64_t events_seen_ = 0;
};

// ------------------------------------------------------------------ commissioning

TEST_F(DeviceApiTest, CommissioningIssuesACertificateAndRefusesBadCodesAndKeys) {
  SetDevices({{"commission_attempts_per_minute", 100}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t door = AddDoor("D1", "Main entrance");
  const int64_t lobby = AddDevice("Lobby left", door);
  const int64_t second = AddDevice("Lobby right", door);
  const int64_t third = AddDevice("Garage", door);
  const int64_t disabled = AddDevice("Old unit", door);
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // Happy path: the answer carries a certificate of our CA for this device.
  const std::string code = IssueCode(lobby);
  Terminal t = NewTerminal();
  const auto before = std::chrono::system_clock::now();
  auto r = t.Commission(code);
  ASSERT_TRUE(r.ok() && r->status == 200) << Show(r);
  json j = BodyOf(*r);
  EXPECT_EQ(j.value("device_id", int64_t{0}), lobby);
  EXPECT_EQ(j.value("device_name", ""), "Lobby left");
  EXPECT_EQ(j.value("heartbeat_interval_s", 0), 30);
  auto chain = net::InspectCertificatePem(j.value("ca_chain", ""));
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->sha256_fingerprint_hex, ca_fingerprint_) << "the chain is the pinned CA";
  auto cert = net::InspectCertificatePem(j.value("certificate", ""));
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->serial_hex, j.value("serial", ""));
  EXPECT_THAT(cert->subject, HasSubstr("device-" + std::to_string(lobby)));
  EXPECT_FALSE(cert->is_ca);
  auto not_after = ParseRfc3339(j.value("not_after", ""));
  ASSERT_TRUE(not_after.has_value()) << r->body;
  EXPECT_GT(*not_after, before + std::chrono::hours(24 * 396)) << "397 days by default";
  EXPECT_LT(*not_after, before + std::chrono::hours(24 * 398));
  auto server_time = ParseRfc3339(j.value("server_time", ""));
  ASSERT_TRUE(server_time.has_value()) << r->body;
  EXPECT_LT(std::chrono::abs(*server_time - before), 5min);
  auto device = store().GetDevice(lobby);
  ASSERT_TRUE(device.ok());
  EXPECT_EQ(device->status, store::DeviceStatus::kCommissioned);
  EXPECT_EQ(device->cert_serial.value_or(""), cert->serial_hex);
  EXPECT_EQ(device->firmware, "1.4.2");
  // From now on the terminal speaks mTLS with it.
  auto hb = t.Heartbeat();
  EXPECT_TRUE(hb.ok() && hb->status == 200) << Show(hb);

  // The code was used once.
  Terminal other = NewTerminal();
  ExpectError(other.Commission(code), 403, "code_used");
  // Codes nobody issued, typed right or not.
  ExpectError(other.Commission("ABCDE-FGHJK"), 403, "invalid_code");
  ExpectError(other.Commission("hello"), 403, "invalid_code");

  // An expired code: the row as an admin's tool would have made it an hour ago, valid for a
  // minute (the store refuses to create a code already expired at its own clock).
  {
    FakeClock an_hour_ago(std::chrono::system_clock::now() - 1h);
    auto past_store = store::Store::Open(StoreOptions(), an_hour_ago);
    ASSERT_TRUE(past_store.ok()) << past_store.status().ToString();
    auto expired_code = store::GenerateCommissioningCode();
    ASSERT_TRUE(expired_code.ok());
    auto hash = store::HashCommissioningCode(*expired_code, secret_);
    ASSERT_TRUE(hash.ok());
    store::NewCommissioningCode row;
    row.device_id = second;
    row.code_hash = *hash;
    row.expires_at = an_hour_ago.Now() + 1min;
    ASSERT_TRUE((*past_store)->CreateCommissioningCode(row).ok());
    ExpectError(other.Commission(*expired_code), 403, "code_expired");
  }
  // A code superseded by a newer one for the same device reads as expired; the newer works,
  // with an EC P-384 key.
  const std::string superseded = IssueCode(third);
  const std::string newer = IssueCode(third);
  ExpectError(other.Commission(superseded), 403, "code_expired");
  {
    Terminal p384 = NewTerminal();
    auto ok = p384.Commission(newer, TerminalKeyType::kEcP384);
    EXPECT_TRUE(ok.ok() && ok->status == 200) << Show(ok);
  }

  // Keys the server does not accept: refused before the code is looked at, so the code
  // still works afterwards. The message says which key it was.
  const std::string fresh = IssueCode(second);
  auto rsa1024 = other.Commission(fresh, TerminalKeyType::kRsa1024);
  ExpectError(rsa1024, 400, "invalid_csr");
  if (rsa1024.ok()) {
    EXPECT_THAT(rsa1024->body, HasSubstr("1024"));
  }
  ExpectError(other.Commission(fresh, TerminalKeyType::kEd25519), 400, "invalid_csr");
  {
    auto pair = MakeKeyAndCsr(TerminalKeyType::kEcP256);
    ASSERT_TRUE(pair.ok());
    std::string damaged = pair->csr_pem;
    damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
    ExpectError(other.CommissionRaw(json{{"code", fresh}, {"csr", damaged}}.dump()), 400,
                "invalid_csr");
    ExpectError(other.CommissionRaw(json{{"code", fresh}, {"csr", "hello"}}.dump()), 400,
                "invalid_csr");
  }
  ExpectError(other.CommissionRaw("not json"), 400, "bad_request");
  ExpectError(other.CommissionRaw(json{{"code", fresh}}.dump()), 400, "bad_request");
  ExpectError(other.CommissionRaw(json{{"csr", "x"}}.dump()), 400, "bad_request");
  {
    Terminal rsa2048 = NewTerminal();
    auto ok = rsa2048.Commission(fresh, TerminalKeyType::kRsa2048);
    EXPECT_TRUE(ok.ok() && ok->status == 200) << "the code survived the refused CSRs: " << Show(ok);
    EXPECT_EQ(rsa2048.device_id(), second);
  }

  // A disabled device cannot be commissioned.
  const std::string for_disabled = IssueCode(disabled);
  ASSERT_TRUE(store().SetDeviceStatus(disabled, store::DeviceStatus::kDisabled).ok());
  ExpectError(other.Commission(for_disabled), 403, "device_disabled");

  EXPECT_TRUE(daemon_.WaitForLog("commissioning refused: invalid_code"));
  EXPECT_TRUE(daemon_.WaitForLog("device commissioned: device_id=" + std::to_string(lobby)));
}

TEST_F(DeviceApiTest, TooManyWrongCodesFromOneAddressAreRefusedWith429) {
  SetDevices({{"commission_attempts_per_minute", 3}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t device = AddDevice("Lobby", AddDoor("D1", "Main entrance"));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string code = IssueCode(device);
  Terminal t = NewTerminal();
  // A refused CSR is not a wrong code: it does not count.
  ExpectError(t.Commission(code, TerminalKeyType::kRsa1024), 400, "invalid_csr");
  for (int i = 0; i < 3; ++i) ExpectError(t.Commission("ABCDE-FGHJK"), 403, "invalid_code");
  // Then even the right code waits: a guesser learns nothing more this minute.
  auto r = t.Commission(code);
  ExpectError(r, 429, "too_many_attempts");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->headers.count("retry-after")) << r->body;
  const int retry_after = std::stoi(r->headers.at("retry-after"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 60);
  EXPECT_FALSE(t.commissioned());
}

// ------------------------------------------------------------------ mTLS

TEST_F(DeviceApiTest, DeviceCallsRefuseMissingForeignExpiredReplacedRevokedAndDisabled) {
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t device = AddDevice("Lobby", AddDoor("D1", "Main entrance"));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Terminal t = Commissioned(device);
  ASSERT_TRUE(t.commissioned());

  // No client certificate.
  for (const char* path : {"/api/v1/heartbeat", "/api/v1/access", "/api/v1/renew"}) {
    SCOPED_TRACE(path);
    ExpectError(t.Request("POST", path, "{}", {{"Content-Type", "application/json"}},
                          /*with_certificate=*/false),
                401, "client_certificate_required");
  }

  auto pair = MakeKeyAndCsr(TerminalKeyType::kEcP256);
  ASSERT_TRUE(pair.ok());
  net::DeviceCertificateRequest req;
  req.csr_pem = pair->csr_pem;
  req.device_identity = "device-" + std::to_string(device);

  // A certificate from another CA: the handshake fails (TLS 1.3 sends the server's refusal
  // after the client finished, so the first read sees it), and the daemon logs it.
  {
    TempDir other_ca_dir;
    auto other_ca = net::LocalCa::OpenOrCreate(other_ca_dir.path(), SystemClock::Instance(),
                                               std::chrono::hours(24 * 30));
    ASSERT_TRUE(other_ca.ok()) << other_ca.status().ToString();
    auto foreign = (*other_ca)->IssueDeviceCertificate(req);
    ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
    Terminal impostor = NewTerminal();
    impostor.SetIdentity(foreign->certificate_pem, pair->private_key_pem);
    auto r = impostor.Heartbeat();
    EXPECT_FALSE(r.ok()) << "a foreign certificate got an answer: " << Show(r);
    EXPECT_TRUE(daemon_.WaitForLog(
        "TLS handshake refused the client certificate: unable to get local issuer certificate"));
  }
  // Our CA, but expired: issued by the daemon's own CA files with a clock two hours back,
  // valid for one hour. The handshake lets it through (so the terminal learns why) and the API
  // answers 403 certificate_expired, logged.
  {
    FakeClock two_hours_ago(std::chrono::system_clock::now() - 2h);
    auto ours =
        net::LocalCa::OpenOrCreate(daemon_.pki_dir(), two_hours_ago, std::chrono::hours(24 * 30));
    ASSERT_TRUE(ours.ok()) << ours.status().ToString();
    net::DeviceCertificateRequest short_req = req;
    short_req.validity = 1h;
    auto expired = (*ours)->IssueDeviceCertificate(short_req);
    ASSERT_TRUE(expired.ok()) << expired.status().ToString();
    ASSERT_LT(expired->not_after, std::chrono::system_clock::now());
    // Recorded as a device's current certificate (of a device of its own, not to replace
    // the terminal's), so that only the expiry can be the reason.
    store::DeviceCertificate rec;
    rec.serial_hex = expired->serial_hex;
    rec.device_id = AddDevice("Expired holder", std::nullopt);
    rec.not_after = expired->not_after;
    ASSERT_TRUE(store().RecordDeviceCertificate(rec).ok());
    Terminal stale = NewTerminal();
    stale.SetIdentity(expired->certificate_pem, pair->private_key_pem);
    ExpectError(stale.Heartbeat(), 403, "certificate_expired");
    ExpectError(stale.Access(Capture(kStranger)), 403, "certificate_expired");
    EXPECT_TRUE(
        daemon_.WaitForLog("device refused: certificate_expired serial=" + expired->serial_hex));
  }
  // Our CA, valid, but no device ever held it.
  {
    auto ours = net::LocalCa::OpenOrCreate(daemon_.pki_dir(), SystemClock::Instance(),
                                           std::chrono::hours(24 * 30));
    ASSERT_TRUE(ours.ok()) << ours.status().ToString();
    auto unknown = (*ours)->IssueDeviceCertificate(req);
    ASSERT_TRUE(unknown.ok()) << unknown.status().ToString();
    Terminal stranger = NewTerminal();
    stranger.SetIdentity(unknown->certificate_pem, pair->private_key_pem);
    ExpectError(stranger.Heartbeat(), 403, "unknown_certificate");
  }

  // Re-commissioning (a new code) replaces the certificate: the old one is refused.
  Terminal old_identity = t;
  Terminal again = Commissioned(device);
  ExpectError(old_identity.Heartbeat(), 403, "certificate_replaced");
  auto hb = again.Heartbeat();
  EXPECT_TRUE(hb.ok() && hb->status == 200) << Show(hb);

  // Renewal too; a refused renewal CSR leaves the current certificate working.
  ExpectError(again.Renew(TerminalKeyType::kRsa1024), 400, "invalid_csr");
  Terminal before_renewal = again;
  auto renewed = again.Renew();
  ASSERT_TRUE(renewed.ok() && renewed->status == 200) << Show(renewed);
  json rj = BodyOf(*renewed);
  EXPECT_TRUE(ParseRfc3339(rj.value("not_after", "")).has_value()) << renewed->body;
  EXPECT_FALSE(rj.value("ca_chain", "").empty());
  EXPECT_NE(again.certificate_pem(), before_renewal.certificate_pem());
  ExpectError(before_renewal.Heartbeat(), 403, "certificate_replaced");
  hb = again.Heartbeat();
  EXPECT_TRUE(hb.ok() && hb->status == 200) << Show(hb);

  // Disabled by an admin, then enabled again.
  ASSERT_TRUE(store().SetDeviceStatus(device, store::DeviceStatus::kDisabled).ok());
  ExpectError(again.Heartbeat(), 403, "device_disabled");
  ExpectError(again.Access(NoFaceJpeg()), 403, "device_disabled");
  ASSERT_TRUE(store().SetDeviceStatus(device, store::DeviceStatus::kCommissioned).ok());
  hb = again.Heartbeat();
  EXPECT_TRUE(hb.ok() && hb->status == 200) << Show(hb);

  // Decommissioned: every certificate revoked.
  auto revoked = store().RevokeDeviceCertificates(device);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  ExpectError(again.Heartbeat(), 403, "certificate_revoked");
  ExpectError(again.Renew(), 403, "certificate_revoked");
  // A new code brings the device back.
  Terminal back = Commissioned(device);
  hb = back.Heartbeat();
  EXPECT_TRUE(hb.ok() && hb->status == 200) << Show(hb);
  ExpectError(again.Heartbeat(), 403, "certificate_replaced");

  // Every refusal is logged with the serial.
  EXPECT_TRUE(daemon_.WaitForLog("device refused: certificate_revoked serial="));
  EXPECT_TRUE(daemon_.WaitForLog("device refused: certificate_replaced serial="));
  EXPECT_TRUE(daemon_.WaitForLog("device refused: device_disabled serial="));
}

// ------------------------------------------------------------------ heartbeat

TEST_F(DeviceApiTest, HeartbeatAnswersTimeAndSkewAndHandsOutACommandOnce) {
  // Short intervals, so that a terminal that stops calling is marked offline within seconds.
  SetDevices({{"heartbeat_interval_s", 1}, {"offline_after_heartbeats", 2}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t device = AddDevice("Lobby", AddDoor("D1", "Main entrance"));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Terminal t = Commissioned(device);

  const auto terminal_clock = std::chrono::system_clock::now() - 2s;  // two seconds behind
  auto r = t.Heartbeat({{"firmware", "1.4.3"},
                        {"uptime_s", 3600},
                        {"clock", FormatRfc3339(terminal_clock)},
                        {"status", "ok"}});
  ASSERT_TRUE(r.ok() && r->status == 200) << Show(r);
  json j = BodyOf(*r);
  EXPECT_EQ(j.value("heartbeat_interval_s", 0), 1);
  auto server_time = ParseRfc3339(j.value("server_time", ""));
  ASSERT_TRUE(server_time.has_value()) << r->body;
  EXPECT_LT(std::chrono::abs(*server_time - std::chrono::system_clock::now()), 5min);
  ASSERT_TRUE(j.contains("clock_skew_ms")) << r->body;
  EXPECT_LT(j["clock_skew_ms"].get<double>(), -1000) << "the terminal is behind: negative";
  EXPECT_GT(j["clock_skew_ms"].get<double>(), -60000);
  EXPECT_EQ(j.value("renew", true), false);
  auto cert = net::InspectCertificatePem(t.certificate_pem());
  ASSERT_TRUE(cert.ok());
  auto cert_not_after = ParseRfc3339(j.value("certificate_not_after", ""));
  ASSERT_TRUE(cert_not_after.has_value()) << r->body;
  EXPECT_LT(std::chrono::abs(*cert_not_after - cert->not_after), 1s);
  EXPECT_EQ(j.value("commands", json()), json::array());
  auto d = store().GetDevice(device);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->firmware, "1.4.3");
  EXPECT_TRUE(d->online);
  EXPECT_TRUE(d->last_seen_at.has_value());

  // Silent for two intervals: offline (logged); the next heartbeat brings it back.
  EXPECT_TRUE(PollUntil(
      [&] {
        auto now = store().GetDevice(device);
        return now.ok() && !now->online;
      },
      15s, 100ms))
      << "never marked offline";
  EXPECT_TRUE(daemon_.WaitForLog("device offline: device_id=" + std::to_string(device)));

  // A queued command rides on the next heartbeat, once.
  store::NewDeviceCommand cmd;
  cmd.device_id = device;
  cmd.command = "reboot";
  cmd.payload_json = R"({"delay_s":5})";
  cmd.origin = "test";
  auto id = store().QueueDeviceCommand(cmd);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  r = t.Heartbeat();  // every field is optional
  EXPECT_TRUE(daemon_.WaitForLog("device online: device_id=" + std::to_string(device)));
  ASSERT_TRUE(r.ok() && r->status == 200) << Show(r);
  j = BodyOf(*r);
  ASSERT_EQ(j["commands"].size(), 1u) << r->body;
  EXPECT_EQ(j["commands"][0].value("id", int64_t{0}), *id);
  EXPECT_EQ(j["commands"][0].value("command", ""), "reboot");
  EXPECT_EQ(j["commands"][0]["payload"], json({{"delay_s", 5}}));
  EXPECT_FALSE(j.contains("clock_skew_ms")) << "no clock sent, no skew";
  r = t.Request("POST", "/api/v1/heartbeat");  // not even a body
  ASSERT_TRUE(r.ok() && r->status == 200) << Show(r);
  EXPECT_EQ(BodyOf(*r).value("commands", json()), json::array()) << "handed out once";

  // Bad bodies are 400, not a silent success.
  ExpectError(t.Request("POST", "/api/v1/heartbeat", "not json"), 400, "bad_request");
  ExpectError(t.Heartbeat({{"clock", "yesterday"}}), 400, "bad_request");
  ExpectError(t.Heartbeat({{"firmware", 7}}), 400, "bad_request");

  // A certificate close to its end: the heartbeat says renew. Issued by the daemon's CA for
  // two days and recorded as the device's current one (as a renewal would).
  auto pair = MakeKeyAndCsr(TerminalKeyType::kEcP256);
  ASSERT_TRUE(pair.ok());
  auto ca = net::LocalCa::OpenOrCreate(daemon_.pki_dir(), SystemClock::Instance(),
                                       std::chrono::hours(24 * 30));
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  net::DeviceCertificateRequest req;
  req.csr_pem = pair->csr_pem;
  req.device_identity = "device-" + std::to_string(device);
  req.validity = std::chrono::hours(48);
  auto near_end = (*ca)->IssueDeviceCertificate(req);
  ASSERT_TRUE(near_end.ok()) << near_end.status().ToString();
  store::DeviceCertificate rec;
  rec.serial_hex = near_end->serial_hex;
  rec.device_id = device;
  rec.not_after = near_end->not_after;
  ASSERT_TRUE(store().RecordDeviceCertificate(rec).ok());
  t.SetIdentity(near_end->certificate_pem, pair->private_key_pem);
  r = t.Heartbeat();
  ASSERT_TRUE(r.ok() && r->status == 200) << Show(r);
  EXPECT_EQ(BodyOf(*r).value("renew", false), true) << r->body;
}

// ------------------------------------------------------------------ access decisions

TEST_F(DeviceApiTest, FaceAccessDecisionsEachLeaveOneEvent) {
  EnableFace({{"workers", 2}});
  // No repeat window here: the same person is asked about several times on purpose.
  SetDevices({{"captures_per_second", 1000}, {"repeat_window_ms", 0}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t main_door = AddDoor("D1", "Main entrance");
  const int64_t lab = AddDoor("D2", "Lab");
  const auto now = std::chrono::system_clock::now();
  const int64_t ada = AddUser("E1001", "Ada", "Lovelace");
  const int64_t bob = AddUser("E1002", "Bob", "Curly");
  const int64_t carol = AddUser("E1003", "Carol", "Stripes");
  const int64_t dave = AddUser("E1004", "Dave", "Clown", now - std::chrono::hours(24));
  AddRight(ada, main_door);
  AddRight(bob, lab);  // only the lab
  store::Schedule not_today;
  not_today.external_id = "S-NOT-TODAY";
  not_today.name = "Another weekday";
  not_today.ranges = {{WeekdayNotToday(), 0, 1440}};
  auto schedule = store().CreateSchedule(not_today);
  ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
  AddRight(carol, main_door, *schedule);
  AddRight(dave, main_door);
  ASSERT_NO_FATAL_FAILURE(Enroll(ada, kAdaEnrolled));
  ASSERT_NO_FATAL_FAILURE(Enroll(bob, kBob));
  ASSERT_NO_FATAL_FAILURE(Enroll(carol, kCarol));
  ASSERT_NO_FATAL_FAILURE(Enroll(dave, kDave));
  const int64_t at_main = AddDevice("Main left", main_door);
  const int64_t at_lab = AddDevice("Lab door", lab);
  const int64_t nowhere = AddDevice("Spare", std::nullopt);
  // A door whose policy requires the terminal's presentation-attack check.
  store::Door vault_door;
  vault_door.external_id = "D3";
  vault_door.name = "Vault";
  vault_door.settings_json = R"({"require_pad": true, "pad_min_score": 0.8})";
  auto vault = store().UpsertDoor(vault_door);
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  AddRight(ada, *vault);
  const int64_t at_vault = AddDevice("Vault door", *vault);
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Terminal main_t = Commissioned(at_main);
  Terminal lab_t = Commissioned(at_lab);
  Terminal spare_t = Commissioned(nowhere);
  Terminal vault_t = Commissioned(at_vault);
  events_seen_ = Events();
  ASSERT_EQ(events_seen_, 0);

  const std::string ada_capture = Capture(kAdaAtTheDoor, 80);
  const std::string stranger_capture = Capture(kStranger);

  // Enrolled from one photo, recognised in another, with a right: grant.
  {
    SCOPED_TRACE("grant");
    json j = ExpectDecision(main_t.Access(ada_capture), "grant", "granted");
    EXPECT_EQ(j["user"], json({{"external_id", "E1001"}, {"display_name", "Ada Lovelace"}}));
    EXPECT_LT(j.value("distance", 9.0), 0.5);
    EXPECT_GT(j.value("score", 0.0), 0.5);
    EXPECT_EQ(j.value("repeat", true), false);
    for (const char* stage : {"queue", "decode", "detect", "landmarks", "chip", "quality", "embed",
                              "match", "decide", "record", "total"}) {
      EXPECT_TRUE(j["timings_ms"].contains(stage)) << stage << ": " << j.dump();
    }
    store::StoredEvent e = Event(j.value("event_id", int64_t{0}));
    EXPECT_EQ(e.event.decision, store::Decision::kGrant);
    EXPECT_EQ(e.event.reason, "granted");
    EXPECT_EQ(e.event.user_id.value_or(0), ada);
    EXPECT_EQ(e.event.device_id.value_or(0), at_main);
    EXPECT_EQ(e.event.door_id.value_or(0), main_door);
    EXPECT_EQ(e.user_external_id, "E1001");
  }
  {
    SCOPED_TRACE("stranger");
    json j = ExpectDecision(main_t.Access(stranger_capture), "deny", "unknown_face");
    store::StoredEvent e = Event(j.value("event_id", int64_t{0}));
    EXPECT_FALSE(e.event.user_id.has_value());
  }
  {
    SCOPED_TRACE("enrolled, no right to this door");
    ExpectDecision(main_t.Access(Capture(kBob)), "deny", "no_access_to_door");
    json j = ExpectDecision(lab_t.Access(Capture(kBob)), "grant", "granted");
    EXPECT_EQ(j["user"].value("external_id", ""), "E1002");
  }
  {
    SCOPED_TRACE("outside schedule");
    ExpectDecision(main_t.Access(Capture(kCarol)), "deny", "outside_schedule");
  }
  {
    SCOPED_TRACE("expired user");
    ExpectDecision(main_t.Access(Capture(kDave)), "deny", "user_expired");
  }
  {
    SCOPED_TRACE("no face");
    ExpectDecision(main_t.Access(NoFaceJpeg()), "deny", "no_face");
  }
  {
    SCOPED_TRACE("two faces");
    ExpectDecision(main_t.Access(TwoFacesJpeg()), "deny", "multiple_faces");
  }
  {
    SCOPED_TRACE("device without a door");
    ExpectDecision(spare_t.Access(ada_capture), "deny", "no_door");
  }
  {
    SCOPED_TRACE("presentation-attack policy");
    ExpectDecision(vault_t.Access(ada_capture), "deny", "presentation_attack");
    ExpectDecision(vault_t.Access(ada_capture, "image/jpeg", {{"X-PAD-Score", "0.3"}}), "deny",
                   "presentation_attack");
    json j = ExpectDecision(vault_t.Access(ada_capture, "image/jpeg",
                                           {{"X-PAD-Score", "0.95"}, {"X-PAD-Method", "depth"}}),
                            "grant", "granted");
    json details = json::parse(Event(j.value("event_id", int64_t{0})).event.details_json);
    EXPECT_EQ(details.value("pad_method", ""), "depth");
  }
  {
    SCOPED_TRACE("multipart with metadata");
    const std::string capture_time = FormatRfc3339(std::chrono::system_clock::now() - 1s);
    json metadata = {{"request_id", "mp-1"},
                     {"capture_time", capture_time},
                     {"pad", {{"score", 0.93}, {"method", "ir"}}}};
    json j = ExpectDecision(
        main_t.AccessMultipart({{"metadata", "application/json", metadata.dump(), ""},
                                {"image", "image/jpeg", ada_capture, "capture.jpg"}}),
        "grant", "granted");
    store::StoredEvent e = Event(j.value("event_id", int64_t{0}));
    EXPECT_EQ(e.event.request_id, "mp-1");
    json details = json::parse(e.event.details_json, nullptr, false);
    EXPECT_EQ(details.value("capture_time", ""), capture_time) << e.event.details_json;
    EXPECT_EQ(details.value("pad_method", ""), "ir") << e.event.details_json;
    // PNG in a part with no Content-Type of its own works too.
    std::vector<uchar> png;
    cv::imencode(".png", CaptureMat(kStranger), png);
    ExpectDecision(main_t.AccessMultipart({{"image", "", std::string(png.begin(), png.end()), ""}}),
                   "deny", "unknown_face");
  }
  {
    SCOPED_TRACE("claimed identity, 1:1");
    json j = ExpectDecision(main_t.Access(ada_capture, "image/jpeg", {{"X-Claimed-User", "E1001"}}),
                            "grant", "granted");
    EXPECT_EQ(j["user"].value("external_id", ""), "E1001");
    json details = json::parse(Event(j.value("event_id", int64_t{0})).event.details_json);
    EXPECT_EQ(details.value("mode", ""), "1:1");
    // Ada's face with Bob's card: compared with Bob's templates only.
    ExpectDecision(main_t.Access(ada_capture, "image/jpeg", {{"X-Claimed-User", "E1002"}}), "deny",
                   "unknown_face");
    ExpectDecision(main_t.Access(ada_capture, "image/jpeg", {{"X-Claimed-User", "E9999"}}), "deny",
                   "claimed_user_unknown");
    // The same claim in the multipart metadata.
    ExpectDecision(
        main_t.AccessMultipart({{"metadata", "application/json", R"({"claimed_user":"E1001"})", ""},
                                {"image", "image/jpeg", ada_capture, ""}}),
        "grant", "granted");
  }
  {
    SCOPED_TRACE("retries with a request id");
    json first = ExpectDecision(
        main_t.Access(stranger_capture, "image/jpeg", {{"X-Request-Id", "cap-0001"}}), "deny",
        "unknown_face");
    auto again = main_t.Access(stranger_capture, "image/jpeg", {{"X-Request-Id", "cap-0001"}});
    ASSERT_TRUE(again.ok() && again->status == 200) << Show(again);
    json retry = BodyOf(*again);
    EXPECT_EQ(retry.value("decision", ""), "deny");
    EXPECT_EQ(retry.value("reason", ""), "unknown_face");
    EXPECT_EQ(retry.value("event_id", int64_t{-1}), first.value("event_id", int64_t{0}));
    EXPECT_EQ(retry.value("retry", false), true) << again->body;
    ExpectNoNewEvent(again);
    // A granted one is answered the same again, user included.
    json granted =
        ExpectDecision(main_t.Access(ada_capture, "image/jpeg", {{"X-Request-Id", "cap-0002"}}),
                       "grant", "granted");
    again = main_t.Access(ada_capture, "image/jpeg", {{"X-Request-Id", "cap-0002"}});
    ASSERT_TRUE(again.ok() && again->status == 200) << Show(again);
    retry = BodyOf(*again);
    EXPECT_EQ(retry.value("decision", ""), "grant");
    EXPECT_EQ(retry.value("event_id", int64_t{-1}), granted.value("event_id", int64_t{0}));
    EXPECT_EQ(retry["user"], granted["user"]);
    EXPECT_EQ(retry.value("retry", false), true);
    ExpectNoNewEvent(again);
    // The id of the multipart metadata counts the same way.
    again = main_t.Access(ada_capture, "image/jpeg", {{"X-Request-Id", "mp-1"}});
    ASSERT_TRUE(again.ok() && again->status == 200) << Show(again);
    EXPECT_EQ(BodyOf(*again).value("retry", false), true);
    ExpectNoNewEvent(again);
    // Request ids are per device: the lab terminal's cap-0001 is a request of its own.
    ExpectDecision(lab_t.Access(stranger_capture, "image/jpeg", {{"X-Request-Id", "cap-0001"}}),
                   "deny", "unknown_face");
  }
  {
    SCOPED_TRACE("a command rides on an access answer");
    store::NewDeviceCommand cmd;
    cmd.device_id = at_main;
    cmd.command = "config";
    cmd.payload_json = R"({"volume":3})";
    cmd.origin = "test";
    auto id = store().QueueDeviceCommand(cmd);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    json j = ExpectDecision(main_t.Access(stranger_capture), "deny", "unknown_face");
    ASSERT_EQ(j["commands"].size(), 1u) << j.dump();
    EXPECT_EQ(j["commands"][0].value("command", ""), "config");
    EXPECT_EQ(j["commands"][0]["payload"], json({{"volume", 3}}));
    j = ExpectDecision(main_t.Access(stranger_capture), "deny", "unknown_face");
    EXPECT_TRUE(j["commands"].empty()) << "handed out once: " << j.dump();
    auto hb = main_t.Heartbeat();
    ASSERT_TRUE(hb.ok() && hb->status == 200) << Show(hb);
    EXPECT_TRUE(BodyOf(*hb)["commands"].empty()) << hb->body;
  }
  {
    // While the daemon runs, an admin's tool gives Bob the main door and enrols the stranger:
    // the daemon follows (access model reloaded, templates synced) within about a second.
    // Every capture until then is a decision of its own, with its row.
    SCOPED_TRACE("changes made while the daemon runs");
    const int64_t bob_main = AddRight(bob, main_door);
    const int64_t newcomer = AddUser("E1005", "Nina", "New");
    AddRight(newcomer, main_door);
    ASSERT_NO_FATAL_FAILURE(Enroll(newcomer, kStranger));
    int captures = 0;
    auto grants = [&](const std::string& capture, const std::string& external_id) {
      return PollUntil(
          [&] {
            ++captures;
            auto r = main_t.Access(capture);
            if (!r.ok() || r->status != 200) return false;
            json j = BodyOf(*r);
            return j.value("decision", "") == "grant" &&
                   j["user"].value("external_id", "") == external_id;
          },
          10s, 100ms);
    };
    const int64_t before = Events();
    EXPECT_TRUE(grants(Capture(kBob), "E1002")) << "the new right was not applied";
    EXPECT_TRUE(grants(stranger_capture, "E1005")) << "the new template was not synced";
    // And back: the right removed, Bob is denied again.
    ASSERT_TRUE(store().DeleteAccessRight(bob_main).ok());
    EXPECT_TRUE(PollUntil(
        [&] {
          ++captures;
          auto r = main_t.Access(Capture(kBob));
          return r.ok() && BodyOf(*r).value("reason", "") == "no_access_to_door";
        },
        10s, 100ms));
    events_seen_ = Events();
    EXPECT_EQ(events_seen_, before + captures);
  }

  // Every step above checked its own row count: the total is the number of decisions.
  EXPECT_EQ(Events(), events_seen_);
  EXPECT_TRUE(daemon_.process().running());
}

// ------------------------------------------------------------------ malformed captures

TEST_F(DeviceApiTest, FaceMalformedCapturesGet4xxWithoutEventAndTheServerStaysHealthy) {
  // One worker: a worker leaked by a bad request would leave none for the captures after.
  EnableFace({{"workers", 1}});
  SetDevices({{"captures_per_second", 1000}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t device = AddDevice("Lobby", AddDoor("D1", "Main entrance"));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Terminal t = Commissioned(device);
  events_seen_ = Events();

  const std::string good = Capture(kStranger);
  auto expect = [&](const Result<HttpReply>& r, int status, const std::string& code) {
    ExpectError(r, status, code);
    ExpectNoNewEvent(r);
  };
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919 + 13) % 251);
  garbage[0] = 'G';

  expect(t.Access(good, "text/plain"), 415, "unsupported_media_type");
  expect(t.Request("POST", "/api/v1/access", good), 415, "unsupported_media_type");  // no type
  // Bytes that are no image at all under an image type: neither JPEG nor PNG.
  expect(t.Access(garbage, "image/jpeg"), 415, "unsupported_media_type");
  // A JPEG start, then noise; and a real capture cut in half.
  expect(t.Access(std::string("\xFF\xD8\xFF", 3) + garbage, "image/jpeg"), 400, "corrupt_image");
  auto truncated = t.Access(good.substr(0, good.size() / 2), "image/jpeg");
  expect(truncated, 400, "corrupt_image");
  if (truncated.ok()) {
    EXPECT_THAT(truncated->body, HasSubstr("truncated"));
  }
  // Four bytes: a JPEG signature, then nothing (two bytes could be anything: unsupported).
  expect(t.Access(good.substr(0, 4), "image/jpeg"), 400, "corrupt_image");
  // 400 megapixels announced by the header: refused before anything is decoded.
  expect(t.Access(PngHeader(20000, 20000), "image/png"), 413, "image_too_large");
  expect(t.Access("", "image/jpeg"), 400, "empty_image");

  // Bad metadata.
  expect(t.Access(good, "image/jpeg", {{"X-Request-Id", "has space"}}), 400, "bad_request");
  expect(t.Access(good, "image/jpeg", {{"X-Request-Id", std::string(129, 'a')}}), 400,
         "bad_request");
  expect(t.Access(good, "image/jpeg", {{"X-Capture-Time", "yesterday"}}), 400, "bad_request");
  expect(t.Access(good, "image/jpeg", {{"X-PAD-Score", "high"}}), 400, "bad_request");
  expect(t.Access(good, "image/jpeg", {{"X-PAD-Score", "1.5"}}), 400, "bad_request");

  // Bad multipart bodies.
  expect(t.AccessMultipart({{"metadata", "application/json", "{}", ""}}), 400, "bad_request");
  expect(t.AccessMultipart(
             {{"metadata", "application/json", "not json", ""}, {"image", "image/jpeg", good, ""}}),
         400, "bad_request");
  expect(t.AccessMultipart({{"metadata", "application/json", R"({"pad":{"score":"x"}})", ""},
                            {"image", "image/jpeg", good, ""}}),
         400, "bad_request");
  expect(t.AccessMultipart({{"image", "text/plain", good, ""}}), 415, "unsupported_media_type");
  expect(t.AccessMultipart({{"image", "image/jpeg", good, ""}, {"image", "image/jpeg", good, ""}}),
         400, "bad_request");
  expect(t.Access(good, "multipart/form-data"), 400, "bad_request");  // no boundary
  {
    FormBody form = BuildMultipart({{"image", "image/jpeg", good, ""}});
    // Cut before the closing delimiter.
    expect(t.Access(form.body.substr(0, form.body.size() / 2), form.content_type), 400,
           "bad_request");
    FormBody corrupt = BuildMultipart({{"image", "image/jpeg", good.substr(0, 1000), ""}});
    expect(t.Access(corrupt.body, corrupt.content_type), 400, "corrupt_image");
  }

  // Still healthy, and captures are still decided (the one worker is free).
  auto health = t.Request("GET", "/healthz", "", {}, false);
  ASSERT_TRUE(health.ok() && health->status == 200) << Show(health);
  auto ready = t.Request("GET", "/readyz", "", {}, false);
  EXPECT_TRUE(ready.ok() && ready->status == 200) << Show(ready);
  for (int i = 0; i < 3; ++i) ExpectDecision(t.Access(good), "deny", "unknown_face");
  EXPECT_TRUE(daemon_.process().running());
}

// ------------------------------------------------------------------ overload and limits

TEST_F(DeviceApiTest, FaceBurstBeyondTheQueueGets503WhileTheRestAreDecided) {
  EnableFace({{"workers", 1}, {"queue_size", 2}});
  SetDevices({{"captures_per_second", 1000}, {"capture_budget_ms", 300}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t device = AddDevice("Lobby", AddDoor("D1", "Main entrance"));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Terminal t = Commissioned(device);
  const std::string capture = Capture(kStranger);

  constexpr int kBurst = 20;
  struct Outcome {
    Result<HttpReply> reply = Status::Unavailable("not sent");
    std::chrono::steady_clock::duration took{};
  };
  std::vector<Outcome> outcomes(kBurst);
  {
    // Every thread connects first (handshakes are not the point), then all send at once.
    std::latch connected(kBurst);
    std::vector<std::thread> threads;
    for (int i = 0; i < kBurst; ++i) {
      threads.emplace_back([&, i] {
        auto client = t.Connect();
        connected.arrive_and_wait();
        if (!client.ok()) {
          outcomes[i].reply = client.status();
          return;
        }
        const auto start = std::chrono::steady_clock::now();
        outcomes[i].reply =
            (*client)->Request("POST", "/api/v1/access", capture, {{"Content-Type", "image/jpeg"}});
        outcomes[i].took = std::chrono::steady_clock::now() - start;
      });
    }
    for (auto& th : threads) th.join();
  }
  int decided = 0, overloaded = 0;
  double slowest_decision_ms = 0, slowest_refusal_ms = 0;
  for (int i = 0; i < kBurst; ++i) {
    const Outcome& o = outcomes[i];
    const double ms = std::chrono::duration<double, std::milli>(o.took).count();
    if (o.reply.ok()) {
      double& slowest = o.reply->status == 200 ? slowest_decision_ms : slowest_refusal_ms;
      slowest = std::max(slowest, ms);
    }
    SCOPED_TRACE("request " + std::to_string(i) + ": " + Show(o.reply));
    ASSERT_TRUE(o.reply.ok()) << "every request is answered";
    // Bounded, not tight: the machine is shared.
    EXPECT_LT(o.took, 10s);
    json j = BodyOf(*o.reply);
    if (o.reply->status == 200) {
      ++decided;
      EXPECT_EQ(j.value("reason", ""), "unknown_face");
    } else {
      ASSERT_EQ(o.reply->status, 503) << "a decision or 503, nothing else";
      EXPECT_EQ(j.value("error", ""), "overloaded");
      EXPECT_EQ(o.reply->headers.count("retry-after") ? o.reply->headers.at("retry-after") : "",
                "1");
      EXPECT_LT(o.took, 5s) << "a 503 comes at once, not after a wait";
      ++overloaded;
    }
  }
  EXPECT_GT(overloaded, 0) << "20 captures for 1 worker and 2 queue places";
  EXPECT_GT(decided, 0);
  // Printed, not asserted (timing figures belong to benchmarks on a shared machine).
  std::printf(
      "burst of %d: %d decided (slowest %.0f ms), %d answered 503 overloaded (slowest %.0f ms)\n",
      kBurst, decided, slowest_decision_ms, overloaded, slowest_refusal_ms);
  events_seen_ = Events();
  EXPECT_EQ(events_seen_, decided) << "a 503 is not a decision: no event";

  // Healthy afterwards: health, a normal capture decided, the refusals counted.
  auto health = t.Request("GET", "/healthz", "", {}, false);
  EXPECT_TRUE(health.ok() && health->status == 200) << Show(health);
  ExpectDecision(t.Access(capture), "deny", "unknown_face");
  TlsClientOptions admin;
  admin.ca_pem = daemon_.ca_pem();
  auto metrics = TlsClient::Connect("127.0.0.1", daemon_.admin_port(), admin);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  auto m = (*metrics)->Request("GET", "/metrics");
  ASSERT_TRUE(m.ok() && m->status == 200) << Show(m);
  EXPECT_THAT(m->body, HasSubstr("facegate_access_overloaded_total"));
  EXPECT_THAT(m->body, ::testing::Not(HasSubstr("facegate_access_overloaded_total 0\n")));
  EXPECT_TRUE(daemon_.process().running());
}

// A decision reaches the cloud link as a pseudonymous event: its id, door, device, decision,
// reason and latency, and nothing of the person.
TEST_F(DeviceApiTest, FaceDecisionsReachTheCloudLinkWithoutThePerson) {
  if (!BrokerAvailable()) GTEST_SKIP() << "no mosquitto";
  Broker broker;
  Observer observer(broker);
  EnableFace({{"workers", 2}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t door = AddDoor("D1", "Main entrance");
  const int64_t ada = AddUser("E1001", "Ada", "Lovelace");
  AddRight(ada, door);
  ASSERT_NO_FATAL_FAILURE(Enroll(ada, kAdaEnrolled));
  const int64_t device = AddDevice("Lobby", door);
  ASSERT_TRUE(
      store().PutIntegrationSettings("connect", true, broker.Settings("site-7").dump()).ok());
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Terminal t = Commissioned(device);
  json j = ExpectDecision(t.Access(Capture(kAdaAtTheDoor, 80)), "grant", "granted");
  const int64_t event_id = j.value("event_id", int64_t{0});
  auto seen = observer.WaitFor("facegate/site-7/events", [&](const json& e) {
    return e.value("event_id", int64_t{0}) == event_id;
  });
  ASSERT_TRUE(seen.has_value()) << "the decision never reached the broker";
  const json e = json::parse(seen->payload);
  EXPECT_EQ(e["door_id"], door);
  EXPECT_EQ(e["device_id"], device);
  EXPECT_EQ(e["decision"], "grant");
  EXPECT_EQ(e["reason"], "granted");
  EXPECT_TRUE(e["latency_ms"].is_number());
  for (const auto& m : observer.Messages()) {
    for (const char* personal : {"E1001", "Ada", "Lovelace", "Lobby", "Main entrance"}) {
      EXPECT_EQ(m.payload.find(personal), std::string::npos) << m.topic << ": " << m.payload;
    }
  }
}

// The terminal simulator's smoke run (the small version of bench/e2e): 10 terminals it
// commissions itself, 20 captures of an enrolled person with the right, one without it and a
// stranger, every answer as expected.
TEST_F(DeviceApiTest, FaceDevsimSmokeTenTerminalsTwentyCapturesNoMismatch) {
  EnableFace({{"workers", 2}});
  // A smoke run checks answers, not capacity: the budgets let a slow (sanitizer) build queue
  // the captures instead of shedding them with 503.
  SetDevices(
      {{"captures_per_second", 100}, {"capture_budget_ms", 30000}, {"decision_budget_ms", 40000}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  int64_t door = 0;
  ASSERT_NO_FATAL_FAILURE(AdaWithTheRightBobWithout(&door));
  std::vector<int64_t> devices;
  for (int i = 3; i < 13; ++i) devices.push_back(AddDevice("sim-" + std::to_string(i), door));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::filesystem::path dir = daemon_.dir() / "devsim";
  std::filesystem::create_directories(dir);
  json codes = json::array();
  for (int64_t d : devices) codes.push_back(IssueCode(d));
  WriteFileForTest(dir / "codes.json", codes.dump());
  WriteFileForTest(dir / "ada.jpg", Capture(kAdaAtTheDoor, 80));
  WriteFileForTest(dir / "bob.jpg", Capture(kBob, 85));
  WriteFileForTest(dir / "stranger.jpg", Capture(kStranger, 90));
  WriteFileForTest(
      dir / "captures.json",
      json::array({{{"file", "ada.jpg"}, {"expect", "grant"}, {"reason", "granted"}},
                   {{"file", "bob.jpg"}, {"expect", "deny"}, {"reason", "no_access_to_door"}},
                   {{"file", "stranger.jpg"}, {"expect", "deny"}, {"reason", "unknown_face"}}})
          .dump());
  auto run = RunProcess({(BinaryDir() / "tools" / "facegate-devsim").string(),
                         "--port",
                         std::to_string(daemon_.device_port()),
                         "--ca",
                         (daemon_.pki_dir() / "ca.crt").string(),
                         "--codes",
                         (dir / "codes.json").string(),
                         "--captures",
                         (dir / "captures.json").string(),
                         "--shape",
                         "sustained",
                         "--rate",
                         "4",
                         "--duration-s",
                         "5",
                         "--timeout-ms",
                         "60000",
                         "--server-pid",
                         std::to_string(daemon_.process().pid()),
                         "--json",
                         (dir / "report.json").string()},
                        dir / "devsim.log", std::chrono::seconds(300));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_TRUE(run->exit && run->exit->code == 0) << run->output;
  std::printf("%s", run->output.c_str());  // the simulator's summary, for the log
  const json report = json::parse(ReadFileForTest(dir / "report.json"), nullptr, false);
  ASSERT_TRUE(report.is_object()) << run->output;
  EXPECT_EQ(report["terminals"], 10) << report.dump(2);
  EXPECT_EQ(report["requests"], 20) << report.dump(2);
  EXPECT_EQ(report["decided"], 20) << report.dump(2);
  EXPECT_EQ(report["mismatches"], 0) << report.dump(2);
  EXPECT_EQ(report["heartbeats"]["ok"], 10) << report.dump(2);
  EXPECT_GT(report["server"].value("peak_rss_bytes", 0), 0) << report.dump(2);
  EXPECT_TRUE(report["server_timings_ms"].contains("total")) << report.dump(2);
  EXPECT_EQ(Events(), 20) << "one event per decision";

  // The codes through the admin API, as an installer's tool gets them: two new devices (sim-1,
  // sim-2), and one that exists (sim-3, commissioned above) gets a new code and is
  // commissioned again.
  const std::string token = TokenFromInitOutput(init_output_);
  ASSERT_FALSE(token.empty()) << init_output_;
  WriteFileForTest(dir / "token", token + "\n");
  auto created = RunProcess({(BinaryDir() / "tools" / "facegate-devsim").string(),
                             "--port",
                             std::to_string(daemon_.device_port()),
                             "--ca",
                             (daemon_.pki_dir() / "ca.crt").string(),
                             "--admin-port",
                             std::to_string(daemon_.admin_port()),
                             "--token-file",
                             (dir / "token").string(),
                             "--door",
                             "D1",
                             "--create",
                             "3",
                             "--name-prefix",
                             "sim",
                             "--captures",
                             (dir / "captures.json").string(),
                             "--shape",
                             "burst",
                             "--window-s",
                             "1",
                             "--timeout-ms",
                             "60000",
                             "--json",
                             (dir / "admin.json").string()},
                            dir / "devsim-admin.log", std::chrono::seconds(300));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(created->exit && created->exit->code == 0) << created->output;
  const json second = json::parse(ReadFileForTest(dir / "admin.json"), nullptr, false);
  ASSERT_TRUE(second.is_object()) << created->output;
  EXPECT_EQ(second["terminals"], 3) << second.dump(2);
  EXPECT_EQ(second["decided"], 3) << second.dump(2);
  EXPECT_EQ(second["mismatches"], 0) << second.dump(2);
  auto listed = store_->ListDevices(0, 100);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 12u) << "sim-3..12, and the new sim-1 and sim-2";
}

// facegate-filler makes up a test site's size: templates for the users of a prefix, at the
// real templates' mean norm, that no real face matches; a prefix nobody has is an error that
// adds nothing.
TEST_F(DeviceApiTest, FaceFillerTemplatesHaveTheRealNormAndMatchNoRealFace) {
  EnableFace({{"workers", 1}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t ada = AddUser("E1001", "Ada", "Lovelace");
  const int64_t bob = AddUser("E1002", "Bob", "Builder");
  const int64_t f1 = AddUser("F000001", "Generated", "1");
  const int64_t f2 = AddUser("F000002", "Generated", "2");
  ASSERT_NO_FATAL_FAILURE(Enroll(ada, kAdaEnrolled));
  ASSERT_NO_FATAL_FAILURE(Enroll(bob, kBob));
  const std::filesystem::path filler = BinaryDir() / "tools" / "facegate-filler";
  const std::filesystem::path dir = daemon_.dir() / "filler";
  std::filesystem::create_directories(dir);

  // A prefix nobody has: exit 1 naming it, nothing added.
  auto none = RunProcess({filler.string(), "--config", daemon_.config_path().string(), "--prefix",
                          "NOBODY", "--templates", "3"},
                         dir / "none.log", std::chrono::seconds(60));
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->exit && none->exit->code == 1) << none->output;
  EXPECT_THAT(none->output, HasSubstr("NOBODY"));

  auto run = RunProcess({filler.string(), "--config", daemon_.config_path().string(), "--prefix",
                         "F", "--templates", "5", "--batch", "2", "--json"},
                        dir / "run.log", std::chrono::seconds(60));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit && run->exit->code == 0) << run->output;
  const json out = json::parse(run->output.substr(run->output.find('{')), nullptr, false);
  ASSERT_TRUE(out.is_object()) << run->output;
  EXPECT_EQ(out["added"], 5);
  EXPECT_EQ(out["users"], 2);
  EXPECT_EQ(out["real_templates"], 2);
  // Far past the match threshold (0.50): a stranger's distance is about 1.0 already.
  EXPECT_GT(out.value("min_distance_to_real", 0.0), 1.0) << out.dump();

  auto real = store_->LoadTemplatesOfUser(ada, face::kModelVersion);
  ASSERT_TRUE(real.ok() && real->size() == 1);
  double ada_norm = 0;
  for (float v : real->row(0)) ada_norm += static_cast<double>(v) * v;
  auto bob_real = store_->LoadTemplatesOfUser(bob, face::kModelVersion);
  ASSERT_TRUE(bob_real.ok() && bob_real->size() == 1);
  double bob_norm = 0;
  for (float v : bob_real->row(0)) bob_norm += static_cast<double>(v) * v;
  const double mean_norm = (std::sqrt(ada_norm) + std::sqrt(bob_norm)) / 2;
  EXPECT_NEAR(out.value("norm", 0.0), mean_norm, 1e-4);
  // Round robin over the prefix's users, each template at that norm.
  auto first = store_->LoadTemplatesOfUser(f1, face::kModelVersion);
  auto second = store_->LoadTemplatesOfUser(f2, face::kModelVersion);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size() + second->size(), 5u);
  EXPECT_GE(std::min(first->size(), second->size()), 2u);
  for (size_t i = 0; i < first->size(); ++i) {
    double sq = 0;
    for (float v : first->row(i)) sq += static_cast<double>(v) * v;
    EXPECT_NEAR(std::sqrt(sq), mean_norm, 1e-3);
  }
}

// facegate-photoset --site writes a whole test site (bench/e2e): enrollment photos, the Space
// data, and captures each with the decision it must get. A real facegated, given that site,
// must decide every capture as the set says; a bad --mix is a usage error.
TEST_F(DeviceApiTest, FacePhotosetSiteIsDecidedAsItSaysByARealDaemon) {
  EnableFace({{"workers", 2}});
  SetDevices(
      {{"captures_per_second", 100}, {"capture_budget_ms", 30000}, {"decision_budget_ms", 40000}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const std::filesystem::path photoset = BinaryDir() / "tools" / "facegate-photoset";
  const std::filesystem::path dir = daemon_.dir() / "site";

  auto bad = RunProcess({photoset.string(), "--site", "--models", ModelsDir().string(), "--out",
                         dir.string(), "--mix", "70,30"},
                        daemon_.dir() / "bad-mix.log", std::chrono::seconds(60));
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();
  EXPECT_TRUE(bad->exit && bad->exit->code == 2) << bad->output;
  EXPECT_THAT(bad->output, HasSubstr("--mix"));
  EXPECT_FALSE(std::filesystem::exists(dir / "captures.json")) << "a usage error writes nothing";

  auto made = RunProcess(
      {photoset.string(), "--site", "--models", ModelsDir().string(), "--out", dir.string(),
       "--captures", "30", "--mix", "40,30,30", "--seed", "7", "--workers", "2"},
      daemon_.dir() / "photoset.log", std::chrono::seconds(900));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  ASSERT_TRUE(made->exit && made->exit->code == 0) << made->output;
  const json summary = json::parse(made->output.substr(made->output.find('{')), nullptr, false);
  ASSERT_TRUE(summary.is_object()) << made->output;
  const json& people = summary["people"];
  const int with_right = people.value("with_right", 0);
  const int without_right = people.value("without_right", 0);
  EXPECT_GE(with_right, 2) << summary.dump(2);
  EXPECT_GE(without_right, 2) << summary.dump(2);
  EXPECT_GE(people.value("strangers", 0), 2) << summary.dump(2);
  EXPECT_EQ(summary["identities"], with_right + without_right + people.value("strangers", 0));
  const json& made_captures = summary["captures"];
  EXPECT_EQ(made_captures.value("with_right", 0) + made_captures.value("without_right", 0) +
                made_captures.value("strangers", 0),
            30)
      << summary.dump(2);

  // The Space data: the enrolled people (strangers are nobody's), doors D1 and D2.
  const json space = json::parse(ReadFileForTest(dir / "space.json"), nullptr, false);
  ASSERT_TRUE(space.is_object() && space["users"].is_array());
  EXPECT_EQ(space["users"].size(), static_cast<size_t>(with_right + without_right));
  std::map<std::string, int64_t> doors;
  for (const auto& d : space["doors"])
    doors[d["ext_door_id"]] = AddDoor(d["ext_door_id"], d["name"]);
  ASSERT_EQ(doors.size(), 2u);
  std::map<std::string, int64_t> users;
  for (const auto& u : space["users"]) {
    const std::string ext = u["ext_user_id"];
    users[ext] = AddUser(ext, u["first_name"], u["last_name"]);
    for (const auto& d : u["doors"]) AddRight(users[ext], doors.at(d["door"]));
  }
  // One enrollment photo per enrolled person (external_id,first_name,last_name,photo,groups).
  std::stringstream csv(ReadFileForTest(dir / "enroll.csv"));
  std::string row;
  std::getline(csv, row);  // the header
  size_t rows = 0;
  while (std::getline(csv, row)) {
    std::vector<std::string> cells;
    std::stringstream in(row);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    ASSERT_GE(cells.size(), 4u) << row;
    ASSERT_TRUE(users.count(cells[0])) << "enrolled but not in Space: " << row;
    ASSERT_NO_FATAL_FAILURE(EnrollPhoto(users[cells[0]], dir / cells[3]));
    ++rows;
  }
  EXPECT_EQ(rows, users.size());

  // The captures: terminal-sized JPEGs, each with the decision it must get at D1.
  const json captures = json::parse(ReadFileForTest(dir / "captures.json"), nullptr, false);
  ASSERT_TRUE(captures.is_array());
  ASSERT_EQ(captures.size(), 30u);
  std::map<std::string, int> by_reason;
  for (const auto& c : captures) {
    const std::string bytes = ReadFileForTest(dir / c["file"].get<std::string>());
    const cv::Mat image =
        cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
    ASSERT_FALSE(image.empty()) << c.dump();
    EXPECT_EQ(image.cols, 640) << c.dump();
    EXPECT_EQ(image.rows, 480) << c.dump();
    by_reason[c["reason"]]++;
  }
  EXPECT_EQ(by_reason["granted"], made_captures.value("with_right", -1));
  EXPECT_EQ(by_reason["no_access_to_door"], made_captures.value("without_right", -1));
  EXPECT_EQ(by_reason["unknown_face"], made_captures.value("strangers", -1));

  std::vector<int64_t> devices;
  for (int i = 1; i <= 5; ++i)
    devices.push_back(AddDevice("site-" + std::to_string(i), doors["D1"]));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  json codes = json::array();
  for (int64_t d : devices) codes.push_back(IssueCode(d));
  WriteFileForTest(daemon_.dir() / "codes.json", codes.dump());
  auto run = RunProcess(
      {(BinaryDir() / "tools" / "facegate-devsim").string(), "--port",
       std::to_string(daemon_.device_port()), "--ca", (daemon_.pki_dir() / "ca.crt").string(),
       "--codes", (daemon_.dir() / "codes.json").string(), "--captures",
       (dir / "captures.json").string(), "--shape", "sustained", "--rate", "5", "--duration-s", "8",
       "--timeout-ms", "60000", "--json", (daemon_.dir() / "report.json").string()},
      daemon_.dir() / "devsim.log", std::chrono::seconds(300));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_TRUE(run->exit && run->exit->code == 0) << run->output;
  const json report = json::parse(ReadFileForTest(daemon_.dir() / "report.json"), nullptr, false);
  ASSERT_TRUE(report.is_object()) << run->output;
  EXPECT_EQ(report["requests"], 40) << report.dump(2);
  EXPECT_EQ(report["decided"], 40) << report.dump(2);
  EXPECT_EQ(report["mismatches"], 0) << report.dump(2);
  // All three kinds were sent: 40 random picks from 30 captures, at least 9 of each kind.
  const json& decisions = report["decisions"];
  EXPECT_GT(decisions.value("grant:granted", 0), 0) << report.dump(2);
  EXPECT_GT(decisions.value("deny:no_access_to_door", 0), 0) << report.dump(2);
  EXPECT_GT(decisions.value("deny:unknown_face", 0), 0) << report.dump(2);
}

// An operator's token the admin API refuses stops facegate-devsim before any terminal starts:
// exit 2, naming the device it was creating and the 401.
TEST_F(DeviceApiTest, DevsimWithARefusedAdminTokenExitsTwoNamingTheDeviceAnd401) {
  ASSERT_NO_FATAL_FAILURE(InitSite());
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::filesystem::path dir = daemon_.dir() / "devsim";
  std::filesystem::create_directories(dir);
  WriteFileForTest(dir / "bob.jpg", Capture(kBob, 85));
  WriteFileForTest(dir / "captures.json",
                   json::array({{{"file", "bob.jpg"}, {"expect", "deny"}}}).dump());
  std::string wrong = TokenFromInitOutput(init_output_);
  ASSERT_FALSE(wrong.empty()) << init_output_;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';  // the right form, not the right token
  WriteFileForTest(dir / "token", wrong + "\n");
  auto run = RunProcess(
      {(BinaryDir() / "tools" / "facegate-devsim").string(), "--port",
       std::to_string(daemon_.device_port()), "--ca", (daemon_.pki_dir() / "ca.crt").string(),
       "--admin-port", std::to_string(daemon_.admin_port()), "--token-file",
       (dir / "token").string(), "--create", "2", "--name-prefix", "sim", "--captures",
       (dir / "captures.json").string(), "--shape", "burst", "--window-s", "1"},
      dir / "devsim.log", std::chrono::seconds(120));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_TRUE(run->exit && run->exit->code == 2) << run->output;
  EXPECT_THAT(run->output, HasSubstr("device sim-1"));
  EXPECT_THAT(run->output, HasSubstr("401"));
  auto listed = store_->ListDevices(0, 100);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_TRUE(listed->empty()) << "a refused token creates nothing";
  EXPECT_EQ(Events(), 0);
}

TEST_F(DeviceApiTest, FaceDecisionsWorkUnderMemoryDenyWriteExecuteWithTheKernelSwitch) {
  ExpectFaceDecisionsUnderMemoryDenyWriteExecute(/*seccomp=*/false);
}

TEST_F(DeviceApiTest, FaceDecisionsWorkUnderMemoryDenyWriteExecuteWithTheSeccompFilter) {
  ExpectFaceDecisionsUnderMemoryDenyWriteExecute(/*seccomp=*/true);
}

TEST_F(DeviceApiTest, FaceCapturesBeyondTheDeviceRateGet429AndARepeatReusesTheDecision) {
  EnableFace({{"workers", 2}});
  SetDevices({{"captures_per_second", 1}, {"repeat_window_ms", 60000}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  const int64_t door = AddDoor("D1", "Main entrance");
  const int64_t ada = AddUser("E1001", "Ada", "Lovelace");
  AddRight(ada, door);
  ASSERT_NO_FATAL_FAILURE(Enroll(ada, kAdaEnrolled));
  const int64_t device = AddDevice("Lobby", door);
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Terminal t = Commissioned(device);
  events_seen_ = Events();
  const std::string capture = Capture(kAdaAtTheDoor, 80);

  // Two captures sent together on two connections: one is decided, the other is 429.
  auto first = t.Connect();
  auto second = t.Connect();
  ASSERT_TRUE(first.ok() && second.ok());
  auto request = [&](const std::string& id) {
    return "POST /api/v1/access HTTP/1.1\r\nHost: facegate\r\nContent-Type: image/jpeg\r\n"
           "X-Request-Id: " +
           id + "\r\nContent-Length: " + std::to_string(capture.size()) + "\r\n\r\n" + capture;
  };
  ASSERT_TRUE((*first)->Write(request("pair-a")).ok());
  ASSERT_TRUE((*second)->Write(request("pair-b")).ok());
  auto a = (*first)->ReadResponse();
  auto b = (*second)->ReadResponse();
  ASSERT_TRUE(a.ok() && b.ok()) << Show(a) << " / " << Show(b);
  const bool a_limited = a->status == 429;
  const Result<HttpReply>& limited = a_limited ? a : b;
  const Result<HttpReply>& decided = a_limited ? b : a;
  ExpectError(limited, 429, "rate_limited");
  EXPECT_EQ(limited->headers.count("retry-after") ? limited->headers.at("retry-after") : "", "1");
  // One row for the two: the 429 is not a decision.
  json j = ExpectDecision(decided, "grant", "granted");
  EXPECT_EQ(j.value("repeat", true), false);

  // The terminal lost that answer and retries at once: answered from the event, whatever the
  // rate (a retry costs no face work), and still no new row.
  auto retry = t.Access(capture, "image/jpeg", {{"X-Request-Id", a_limited ? "pair-b" : "pair-a"}});
  ASSERT_TRUE(retry.ok() && retry->status == 200) << Show(retry);
  EXPECT_EQ(BodyOf(*retry).value("retry", false), true) << retry->body;
  EXPECT_EQ(BodyOf(*retry).value("event_id", int64_t{-1}), j.value("event_id", int64_t{0}));
  ExpectNoNewEvent(retry);

  // Once the bucket refills, the same person at the same device inside the window: the
  // decision is reused and recorded as a repeat (no second door opening).
  Result<HttpReply> next = Status::Unavailable("not sent");
  ASSERT_TRUE(PollUntil(
      [&] {
        next = t.Access(capture);
        return next.ok() && next->status != 429;
      },
      10s, 200ms))
      << Show(next);
  // Exactly one row since the first decision: the 429s recorded nothing.
  j = ExpectDecision(next, "grant", "granted");
  EXPECT_EQ(j.value("repeat", false), true) << next->body;
  EXPECT_TRUE(Event(j.value("event_id", int64_t{0})).event.repeat);
}

// ------------------------------------------------------------------ Salto Space

// With the Salto Space integration on (the SHIP simulator as Space, a separate process): a
// grant opens the door in Space exactly once (a repeat does not), an opening Space does not
// confirm in time turns the grant into `deny acs_unreachable`, a door Space refuses into
// `deny acs_refused`, and when Space comes back no stale opening is ever sent.
TEST_F(DeviceApiTest, FaceGrantsOpenTheDoorInSpaceOnceAndNeverLate) {
  constexpr const char* kKey = "device-api-space-key";
  SimProcess sim(R"({
    "doors": [{"ext_door_id": "D1", "name": "Main entrance"},
              {"ext_door_id": "D2", "name": "Offline door"}],
    "door_errors": {"D2": 100},
    "users": [{"ext_user_id": "E1001", "first_name": "Ada", "last_name": "Lovelace",
               "doors": [{"door": "D1"}, {"door": "D2"}]}]
  })",
                 kKey);
  EnableFace({{"workers", 2}});
  SetDevices({{"captures_per_second", 1000}, {"repeat_window_ms", 60000}});
  ASSERT_NO_FATAL_FAILURE(InitSite());
  // Facegate's own records first: the sync adopts them (same external ids), faces included.
  const int64_t d1 = AddDoor("D1", "Main entrance");
  const int64_t d2 = AddDoor("D2", "Offline door");
  const int64_t ada = AddUser("E1001", "Ada", "Lovelace");
  ASSERT_NO_FATAL_FAILURE(Enroll(ada, kAdaEnrolled));
  std::vector<int64_t> devices;
  for (int i = 0; i < 5; ++i) devices.push_back(AddDevice("Main " + std::to_string(i), d1));
  const int64_t at_d2 = AddDevice("Offline door", d2);
  json settings = {{"url", "https://127.0.0.1:" + std::to_string(sim.https_port()) + "/"},
                   {"api_key", kKey},
                   {"pin_sha256", sim.fingerprint()},
                   {"probe_interval_s", 1},
                   {"door_open_timeout_ms", 1000},
                   {"audit_interval_s", 1},
                   {"audit_grace_s", 2}};
  ASSERT_TRUE(store().PutIntegrationSettings("space", true, settings.dump()).ok());
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  bool synced = false;
  for (int i = 0; i < 300 && !synced; ++i) {
    auto door = store().GetDoor(d1);
    synced = door.ok() && door->source == store::RecordSource::kShip;
    if (!synced) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(synced) << "the daemon never synced with Space";
  std::vector<Terminal> terminals;
  for (int64_t d : devices) terminals.push_back(Commissioned(d));
  Terminal offline = Commissioned(at_d2);
  events_seen_ = Events();
  const std::string capture = Capture(kAdaAtTheDoor, 80);

  // Space up: granted, the door opened in Space once; the repeat opens nothing.
  json j = ExpectDecision(terminals[0].Access(capture), "grant", "granted");
  store::StoredEvent e = Event(j.value("event_id", int64_t{0}));
  json details = json::parse(e.event.details_json);
  EXPECT_EQ(details["acs"]["opened"], true) << e.event.details_json;
  EXPECT_TRUE(j["timings_ms"].contains("acs")) << j.dump();
  EXPECT_EQ(sim.Openings(), 1u);
  j = ExpectDecision(terminals[0].Access(capture), "grant", "granted");
  EXPECT_EQ(j.value("repeat", false), true);
  EXPECT_EQ(sim.Openings(), 1u) << "a repeat opened the door again";

  // Space refuses that door: denied, saying so.
  j = ExpectDecision(offline.Access(capture), "deny", "acs_refused");
  EXPECT_EQ(sim.Openings(), 2u);

  // Space takes the opening but never confirms: denied within the budget (fail-secure).
  sim.Fault({{"mode", "hang"}, {"only", "OnlineDoor.Open"}});
  j = ExpectDecision(terminals[1].Access(capture), "deny", "acs_unreachable");
  e = Event(j.value("event_id", int64_t{0}));
  details = json::parse(e.event.details_json);
  EXPECT_EQ(details["acs"]["opened"], false);
  EXPECT_LE(details["acs"]["ms"].get<double>(), 1000 + 250) << "the opening outlived its timeout";
  EXPECT_EQ(sim.Openings(), 3u);

  // Space down: denied; once it is back, nothing of the failed openings arrives late.
  sim.Fault({{"mode", "down"}, {"seconds", 2}});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  j = ExpectDecision(terminals[2].Access(capture), "deny", "acs_unreachable");
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // Space is back
  EXPECT_EQ(sim.Openings(), 3u) << "an opening was sent late, after Space came back";

  // And the next grant opens the door again.
  j = ExpectDecision(terminals[3].Access(capture), "grant", "granted");
  EXPECT_EQ(sim.Openings(), 4u);
  auto openings = sim.Control("GET", "/openings")["openings"];
  ASSERT_EQ(openings.size(), 4u);
  EXPECT_EQ(openings[0]["door"], "D1");
  EXPECT_EQ(openings[1]["door"], "D2");

  // Reconciliation: both openings Space confirmed show up in its audit trail.
  TlsClientOptions admin;
  admin.ca_pem = daemon_.ca_pem();
  auto audit_count = [&](const std::string& result) {
    auto client = TlsClient::Connect("127.0.0.1", daemon_.admin_port(), admin);
    if (!client.ok()) return -1;
    auto m = (*client)->Request("GET", "/metrics");
    if (!m.ok() || m->status != 200) return -1;
    const std::string name = "facegate_ship_audit_openings_total{result=\"" + result + "\"} ";
    const size_t at = m->body.find(name);
    return at == std::string::npos ? 0 : std::atoi(m->body.c_str() + at + name.size());
  };
  auto wait_for_count = [&](const std::string& result, int want) {
    int n = -1;
    for (int i = 0; i < 200 && n != want; ++i) {
      n = audit_count(result);
      if (n != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return n;
  };
  EXPECT_EQ(wait_for_count("confirmed", 2), 2);
  EXPECT_EQ(audit_count("unconfirmed"), 0);

  // An opening Space confirms but its audit trail never shows is reported as unconfirmed
  // (the trail unreadable while the opening is dropped from it, so no read can see it).
  sim.Fault({{"mode", "exception"}, {"code", 500}, {"only", "SaltoDBAuditTrail.Read"}});
  ExpectDecision(terminals[4].Access(capture), "grant", "granted");
  sim.Control("DELETE", "/openings");
  sim.Fault({{"mode", "none"}});
  EXPECT_EQ(wait_for_count("unconfirmed", 1), 1);
  EXPECT_EQ(audit_count("confirmed"), 2);
}

}  // namespace
}  // namespace facegate::testing
