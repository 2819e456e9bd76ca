#include "devsim/devsim.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "facegate/core/files.h"
#include "facegate/net/pki.h"

namespace facegate::devsim {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

double MsSince(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

struct CallResult {
  int status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::string error;
  double ms = 0;
};

// One HTTPS call on a connection of its own, within `timeout` from connect to the last byte.
class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(asio::io_context& io, ssl::context& ctx, tcp::endpoint endpoint, const std::string& host,
       http::request<http::string_body> request, std::chrono::milliseconds timeout,
       std::function<void(CallResult)> done)
      : stream_(asio::make_strand(io), ctx),
        endpoint_(endpoint),
        host_(host),
        request_(std::move(request)),
        timeout_(timeout),
        done_(std::move(done)) {}

  void Start() {
    started_ = Steady::now();
    // The server is known by its address (or name): the certificate must say so.
    X509_VERIFY_PARAM* param = SSL_get0_param(stream_.native_handle());
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str()) != 1) {
      X509_VERIFY_PARAM_set1_host(param, host_.c_str(), 0);
      SSL_set_tlsext_host_name(stream_.native_handle(), host_.c_str());
    }
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    beast::get_lowest_layer(stream_).async_connect(
        endpoint_, beast::bind_front_handler(&Call::OnConnect, shared_from_this()));
  }

 private:
  void OnConnect(beast::error_code ec) {
    if (ec) return Finish("connect: " + ec.message());
    stream_.async_handshake(ssl::stream_base::client,
                            beast::bind_front_handler(&Call::OnHandshake, shared_from_this()));
  }
  void OnHandshake(beast::error_code ec) {
    if (ec) return Finish("TLS handshake: " + ec.message());
    http::async_write(stream_, request_,
                      beast::bind_front_handler(&Call::OnWrite, shared_from_this()));
  }
  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return Finish("write: " + ec.message());
    http::async_read(stream_, buffer_, response_,
                     beast::bind_front_handler(&Call::OnRead, shared_from_this()));
  }
  void OnRead(beast::error_code ec, size_t) {
    if (ec) return Finish("read: " + ec.message());
    result_.status = static_cast<int>(response_.result_int());
    result_.body = std::move(response_.body());
    Finish("");
  }
  void Finish(std::string error) {
    result_.error = std::move(error);
    result_.ms = MsSince(started_);
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);  // a terminal just hangs up
    done_(std::move(result_));
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  tcp::endpoint endpoint_;
  std::string host_;
  http::request<http::string_body> request_;
  std::chrono::milliseconds timeout_;
  std::function<void(CallResult)> done_;
  beast::flat_buffer buffer_;
  http::response<http::string_body> response_;
  CallResult result_;
  Steady::time_point started_;
};

struct Terminal {
  int index = 0;
  int64_t device_id = 0;
  std::unique_ptr<ssl::context> tls;  // with the terminal's certificate and key
  std::atomic<int64_t> sequence{0};
};

// One capture's outcome.
struct Sample {
  int step = 0;  // the ramp's step (0 otherwise)
  double sent_at_ms = 0;
  CallResult call;
  std::string decision, reason;
  bool mismatch = false;
  std::string label;
  json timings;  // the server's stage timings from the answer
};

// CPU and memory of the server process, sampled from /proc while the run lasts.
class ProcSampler {
 public:
  explicit ProcSampler(int pid) : pid_(pid) {
    if (pid_ <= 0) return;
    start_cpu_ = CpuSeconds();
    started_ = Steady::now();
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stop_) {
        lock.unlock();
        const int64_t rss = Status("VmRSS:");
        lock.lock();
        peak_rss_ = std::max(peak_rss_, rss);
        cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_; });
      }
    });
  }
  ~ProcSampler() { Finish(); }

  json Finish() {
    if (pid_ <= 0) return nullptr;
    if (thread_.joinable()) {
      {
        std::lock_guard lock(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      thread_.join();
      const double wall = std::chrono::duration<double>(Steady::now() - started_).count();
      cpu_percent_ = wall > 0 ? 100.0 * (CpuSeconds() - start_cpu_) / wall : 0;
      hwm_ = Status("VmHWM:");
    }
    return {{"pid", pid_},
            {"cpu_percent", cpu_percent_},
            {"peak_rss_bytes", peak_rss_},
            {"lifetime_peak_rss_bytes", hwm_}};
  }

 private:
  double CpuSeconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    if (f.size() < 13) return 0;
    return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  int64_t Status(const std::string& key) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size())) * 1024;  // kB
    }
    return 0;
  }

  int pid_;
  double start_cpu_ = 0, cpu_percent_ = 0;
  int64_t peak_rss_ = 0, hwm_ = 0;
  Steady::time_point started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

json LatencyJson(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  double sum = 0;
  for (double x : v) sum += x;
  return {{"count", v.size()},
          {"min", *std::min_element(v.begin(), v.end())},
          {"p50", Percentile(v, 0.50)},
          {"p90", Percentile(v, 0.90)},
          {"p99", Percentile(v, 0.99)},
          {"max", *std::max_element(v.begin(), v.end())},
          {"mean", sum / static_cast<double>(v.size())}};
}

// Request ids must not repeat across runs: the server answers a request id it has decided
// before with the stored decision (a terminal's retry), and a later run's terminals are the
// same devices. Not from --seed, which fixes the captures and moments only.
std::string RunId() {
  std::random_device device;
  char id[17];
  std::snprintf(id, sizeof id, "%08x%08x", device(), device());
  return id;
}

class Simulation {
 public:
  Simulation(const Options& o, const std::vector<Capture>& captures)
      : o_(o), captures_(captures), rng_(o.seed), run_id_(RunId()) {}

  Result<json> Run() {
    if (captures_.empty()) return Status::InvalidArgument("no captures to send");
    if (o_.codes.empty() && (o_.admin_port == 0 || o_.create_terminals < 1)) {
      return Status::InvalidArgument("no commissioning codes: no terminals");
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(o_.host, ec);
    if (ec) {
      tcp::resolver resolver(io_);
      auto found = resolver.resolve(o_.host, std::to_string(o_.port), ec);
      if (ec || found.empty()) return Status::Unavailable("cannot resolve " + o_.host);
      endpoint_ = *found.begin();
    } else {
      endpoint_ = tcp::endpoint(address, o_.port);
    }
    admin_endpoint_ = tcp::endpoint(endpoint_.address(), o_.admin_port);
    FACEGATE_RETURN_IF_ERROR(MakeContext(&commission_tls_, "", ""));
    auto guard = asio::make_work_guard(io_);
    std::vector<std::thread> threads;
    for (int i = 0; i < std::max(1, o_.threads); ++i) threads.emplace_back([this] { io_.run(); });
    Status commissioned = o_.codes.empty() ? CodesFromAdminApi() : Status::Ok();
    if (commissioned.ok()) commissioned = Commission();
    json report;
    if (commissioned.ok()) report = Load();
    guard.reset();
    io_.stop();
    for (auto& t : threads) t.join();
    if (!commissioned.ok()) return commissioned;
    return report;
  }

 private:
  Status MakeContext(std::unique_ptr<ssl::context>* out, const std::string& cert_pem,
                     const std::string& key_pem) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                     ssl::context::no_tlsv1_1);
    ctx->add_certificate_authority(asio::buffer(o_.ca_pem), ec);
    if (ec) return Status::InvalidArgument("the CA is not PEM: " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (!cert_pem.empty()) {
      ctx->use_certificate_chain(asio::buffer(cert_pem), ec);
      if (!ec) ctx->use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
      if (ec) return Status::Internal("the terminal's certificate: " + ec.message());
    }
    *out = std::move(ctx);
    return Status::Ok();
  }

  http::request<http::string_body> Request(const std::string& target, std::string body,
                                           const std::string& type) {
    http::request<http::string_body> r{http::verb::post, target, 11};
    r.set(http::field::host, o_.host);
    r.set(http::field::user_agent, "facegate-devsim");
    r.set(http::field::content_type, type);
    r.body() = std::move(body);
    r.prepare_payload();
    return r;
  }

  // Runs `call` and waits for its result (commissioning, before the load).
  CallResult CallAndWait(ssl::context& tls, http::request<http::string_body> request) {
    return CallAndWait(tls, endpoint_, std::move(request));
  }
  CallResult CallAndWait(ssl::context& tls, const tcp::endpoint& to,
                         http::request<http::string_body> request) {
    std::promise<CallResult> p;
    auto f = p.get_future();
    std::make_shared<Call>(io_, tls, to, o_.host, std::move(request), o_.timeout,
                           [&p](CallResult r) { p.set_value(std::move(r)); })
        ->Start();
    return f.get();
  }

  // A POST to the admin API with the operator's bearer token.
  CallResult AdminCall(const std::string& target, std::string body) {
    auto request = Request(target, std::move(body), "application/json");
    request.set(http::field::authorization, "Bearer " + o_.admin_token);
    return CallAndWait(*commission_tls_, admin_endpoint_, std::move(request));
  }

  // Creates the devices through the admin API (or gives the ones an earlier run left a new
  // code) and keeps their commissioning codes.
  Status CodesFromAdminApi() {
    for (int i = 1; i <= o_.create_terminals; ++i) {
      const std::string name = o_.name_prefix + "-" + std::to_string(i);
      json body = {{"name", name}};
      if (!o_.door.empty()) body["door"] = o_.door;
      CallResult r = AdminCall("/api/v1/devices", body.dump());
      json answer = json::parse(r.body, nullptr, false);
      std::string code;
      if (r.status == 201 && answer.is_object()) {
        code = answer["commissioning"].value("code", "");
      } else if (r.status == 409) {
        r = AdminCall("/api/v1/devices/" + name + "/code", "{}");
        answer = json::parse(r.body, nullptr, false);
        if ((r.status == 200 || r.status == 201) && answer.is_object()) {
          code = answer.value("code", "");
        }
      }
      if (code.empty()) {
        return Status::FailedPrecondition(
            "admin API, device " + name + ": " +
            (r.status ? std::to_string(r.status) + " " + r.body.substr(0, 300) : r.error));
      }
      o_.codes.push_back(code);
      if (o_.progress) {
        std::fprintf(stderr, "\rcreated %d/%d devices", i, o_.create_terminals);
      }
    }
    if (o_.progress) std::fprintf(stderr, "\n");
    return Status::Ok();
  }

  // Every code becomes a terminal with a certificate; then one heartbeat each.
  Status Commission() {
    std::vector<std::string> problems;
    for (size_t i = 0; i < o_.codes.size(); ++i) {
      auto pair = net::MakeKeyAndCsr(net::ClientKeyType::kEcP256, "devsim-" + std::to_string(i));
      if (!pair.ok()) return pair.status();
      json body = {{"code", o_.codes[i]}, {"csr", pair->csr_pem}, {"firmware", "devsim-1"}};
      CallResult r = CallAndWait(*commission_tls_,
                                 Request("/api/v1/commission", body.dump(), "application/json"));
      json answer = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !answer.is_object() || !answer["certificate"].is_string()) {
        problems.push_back("code " + std::to_string(i + 1) + ": " +
                           (r.status ? std::to_string(r.status) + " " + r.body : r.error));
        continue;
      }
      auto t = std::make_unique<Terminal>();
      t->index = static_cast<int>(terminals_.size());
      t->device_id = answer.value("device_id", int64_t{0});
      FACEGATE_RETURN_IF_ERROR(
          MakeContext(&t->tls, answer["certificate"].get<std::string>(), pair->private_key_pem));
      terminals_.push_back(std::move(t));
      if (o_.progress) std::fprintf(stderr, "\rcommissioned %zu/%zu", i + 1, o_.codes.size());
    }
    if (o_.progress) std::fprintf(stderr, "\n");
    commission_failures_ = problems;
    if (terminals_.empty()) {
      return Status::FailedPrecondition("no terminal could be commissioned: " +
                                        (problems.empty() ? std::string("?") : problems[0]));
    }
    for (auto& t : terminals_) Heartbeat(*t);
    return Status::Ok();
  }

  void Heartbeat(Terminal& t) {
    json body = {{"firmware", "devsim-1"}, {"status", "ok"}};
    CallResult r =
        CallAndWait(*t.tls, Request("/api/v1/heartbeat", body.dump(), "application/json"));
    std::lock_guard lock(mu_);
    (r.status == 200 ? heartbeats_ok_ : heartbeats_failed_)++;
  }

  // During the load: every terminal's heartbeat each interval, as real terminals keep
  // sending them (without waiting for the answers).
  void HeartbeatLoop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, o_.heartbeat_interval, [this] { return load_done_; })) {
      lock.unlock();
      for (auto& t : terminals_) {
        json body = {{"firmware", "devsim-1"}, {"status", "ok"}};
        std::make_shared<Call>(io_, *t->tls, endpoint_, o_.host,
                               Request("/api/v1/heartbeat", body.dump(), "application/json"),
                               o_.timeout,
                               [this](CallResult r) {
                                 std::lock_guard done(mu_);
                                 (r.status == 200 ? heartbeats_ok_ : heartbeats_failed_)++;
                               })
            ->Start();
      }
      lock.lock();
    }
  }

  // Sends one capture from terminal `t`; its sample lands in samples_.
  void SendCapture(Terminal& t, size_t capture, int step) {
    const Capture& c = captures_[capture];
    auto request = Request("/api/v1/access", c.jpeg, "image/jpeg");
    request.set("X-Request-Id", "devsim-" + run_id_ + "-" + std::to_string(t.index) + "-" +
                                    std::to_string(t.sequence.fetch_add(1)));
    const double sent_at = MsSince(started_);
    {
      std::lock_guard lock(mu_);
      ++outstanding_;
    }
    std::make_shared<Call>(io_, *t.tls, endpoint_, o_.host, std::move(request), o_.timeout,
                           [this, capture, step, sent_at](CallResult r) {
                             Record(capture, step, sent_at, std::move(r));
                           })
        ->Start();
  }

  void Record(size_t capture, int step, double sent_at, CallResult r) {
    const Capture& c = captures_[capture];
    Sample s;
    s.step = step;
    s.sent_at_ms = sent_at;
    s.label = c.label;
    if (r.status == 200) {
      json answer = json::parse(r.body, nullptr, false);
      if (answer.is_object()) {
        s.decision = answer.value("decision", "");
        s.reason = answer.value("reason", "");
        if (answer.contains("timings_ms")) s.timings = answer["timings_ms"];
      }
      s.mismatch = s.decision != c.expect_decision ||
                   (!c.expect_reason.empty() && s.reason != c.expect_reason);
    }
    r.body.clear();
    s.call = std::move(r);
    std::lock_guard lock(mu_);
    samples_.push_back(std::move(s));
    --outstanding_;
    cv_.notify_all();
  }

  size_t PickCapture() {
    std::uniform_int_distribution<size_t> pick(0, captures_.size() - 1);
    return pick(rng_);
  }

  // Waits until every capture sent has its outcome.
  void Drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return outstanding_ == 0; });
  }

  // Sends at `rate` per second from now for `length`, round robin over the terminals.
  void Pace(double rate, std::chrono::milliseconds length, int step) {
    const auto begin = Steady::now();
    const auto end = begin + length;
    const auto gap = std::chrono::duration<double>(1.0 / std::max(rate, 0.001));
    for (int64_t k = 0;; ++k) {
      const auto at =
          begin + std::chrono::duration_cast<Steady::duration>(gap * static_cast<double>(k));
      if (at >= end) break;
      std::this_thread::sleep_until(at);
      SendCapture(*terminals_[static_cast<size_t>(next_terminal_++) % terminals_.size()],
                  PickCapture(), step);
      if (o_.progress && k % 10 == 0) {
        std::fprintf(stderr, "\rrate %.0f/s: %lld sent", rate, static_cast<long long>(k + 1));
      }
    }
  }

  json Load() {
    ProcSampler proc(o_.server_pid);
    started_ = Steady::now();
    std::thread heartbeats([this] { HeartbeatLoop(); });
    json ramp = nullptr;
    if (o_.shape == Shape::kBurst) {
      // Each terminal once, at a random moment of the window.
      std::uniform_real_distribution<double> when(0, static_cast<double>(o_.window.count()));
      std::vector<std::pair<double, size_t>> plan;
      for (size_t i = 0; i < terminals_.size(); ++i) plan.emplace_back(when(rng_), i);
      std::sort(plan.begin(), plan.end());
      for (const auto& [ms, i] : plan) {
        std::this_thread::sleep_until(started_ +
                                      std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
        SendCapture(*terminals_[i], PickCapture(), 0);
      }
    } else if (o_.shape == Shape::kSustained) {
      Pace(o_.rate, o_.duration, 0);
    } else {
      ramp = json::array();
      double rate = o_.rate;
      double knee = 0;
      for (int step = 0; step < 100; ++step, rate += o_.ramp_step) {
        Pace(rate, o_.ramp_step_time, step);
        Drain();
        std::vector<double> ms;
        int failed = 0, total = 0;
        {
          std::lock_guard lock(mu_);
          for (const Sample& s : samples_) {
            if (s.step != step) continue;
            ++total;
            if (s.call.status == 200) {
              ms.push_back(s.call.ms);
            } else {
              ++failed;
            }
          }
        }
        const double p99 = Percentile(ms, 0.99);
        ramp.push_back({{"rate", rate}, {"sent", total}, {"failed", failed}, {"p99_ms", p99}});
        if (p99 > o_.p99_bound_ms || failed * 100 > total) break;
        knee = rate;
      }
      ramp = {{"steps", ramp}, {"knee_rate", knee}, {"p99_bound_ms", o_.p99_bound_ms}};
    }
    Drain();
    const double seconds = MsSince(started_) / 1000;
    {
      std::lock_guard lock(mu_);
      load_done_ = true;
    }
    cv_.notify_all();
    heartbeats.join();
    if (o_.progress) std::fprintf(stderr, "\n");
    json server = proc.Finish();
    return Report(seconds, std::move(server), std::move(ramp));
  }

  json Report(double seconds, json server, json ramp) {
    std::lock_guard lock(mu_);
    std::vector<double> decided, shed, all;
    std::map<std::string, int> decisions, statuses, errors;
    std::map<std::string, std::vector<double>> stages;
    json mismatch_examples = json::array();
    int mismatches = 0;
    for (const Sample& s : samples_) {
      if (s.call.status == 0) {
        errors[s.call.error.substr(0, s.call.error.find(':'))]++;
        continue;
      }
      all.push_back(s.call.ms);
      statuses[std::to_string(s.call.status)]++;
      if (s.call.status == 503) shed.push_back(s.call.ms);
      if (s.call.status != 200) continue;
      decided.push_back(s.call.ms);
      decisions[s.decision + ":" + s.reason]++;
      if (s.mismatch) {
        ++mismatches;
        if (mismatch_examples.size() < 10) {
          mismatch_examples.push_back(
              {{"capture", s.label}, {"decision", s.decision}, {"reason", s.reason}});
        }
      }
      if (s.timings.is_object()) {
        for (auto it = s.timings.begin(); it != s.timings.end(); ++it) {
          if (it->is_number()) stages[it.key()].push_back(it->get<double>());
        }
      }
    }
    json stage_json = json::object();
    for (const auto& [name, v] : stages) {
      double sum = 0;
      for (double x : v) sum += x;
      stage_json[name] = {{"mean", sum / static_cast<double>(v.size())},
                          {"p99", Percentile(v, 0.99)}};
    }
    const char* shape = o_.shape == Shape::kBurst       ? "burst"
                        : o_.shape == Shape::kSustained ? "sustained"
                                                        : "ramp";
    json r = {{"shape", shape},
              {"terminals", terminals_.size()},
              {"commission_failures", commission_failures_},
              {"heartbeats", {{"ok", heartbeats_ok_}, {"failed", heartbeats_failed_}}},
              {"captures_available", captures_.size()},
              {"requests", samples_.size()},
              {"answered", all.size()},
              {"decided", decided.size()},
              {"http_status", statuses},
              {"errors", errors},
              {"decisions", decisions},
              {"mismatches", mismatches},
              {"mismatch_examples", mismatch_examples},
              {"latency_ms", LatencyJson(decided)},
              {"shed_latency_ms", LatencyJson(shed)},
              {"duration_s", seconds},
              {"throughput_per_s", seconds > 0 ? static_cast<double>(decided.size()) / seconds : 0},
              {"server_timings_ms", stage_json},
              {"server", std::move(server)}};
    if (o_.shape == Shape::kBurst) r["window_s"] = static_cast<double>(o_.window.count()) / 1000;
    if (o_.shape == Shape::kSustained) {
      r["target_rate"] = o_.rate;
      r["target_duration_s"] = static_cast<double>(o_.duration.count()) / 1000;
    }
    if (!ramp.is_null()) r["ramp"] = std::move(ramp);
    return r;
  }

  Options o_;  // a copy: codes obtained through the admin API are added to it
  const std::vector<Capture>& captures_;
  asio::io_context io_;
  tcp::endpoint endpoint_;
  tcp::endpoint admin_endpoint_;
  std::unique_ptr<ssl::context> commission_tls_;
  std::vector<std::unique_ptr<Terminal>> terminals_;
  std::vector<std::string> commission_failures_;
  std::mt19937_64 rng_;
  const std::string run_id_;  // in every X-Request-Id
  int64_t next_terminal_ = 0;
  Steady::time_point started_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sample> samples_;  // GUARDED_BY(mu_)
  int64_t outstanding_ = 0;      // GUARDED_BY(mu_)
  bool load_done_ = false;       // GUARDED_BY(mu_)
  int heartbeats_ok_ = 0, heartbeats_failed_ = 0;
};

}  // namespace

Result<std::vector<Capture>> LoadCaptures(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  json list = json::parse(*text, nullptr, false);
  if (!list.is_array()) return Status::InvalidArgument(path + ": expected a JSON array");
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::vector<Capture> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    const std::string where = path + "[" + std::to_string(i) + "]";
    if (!e.is_object() || !e["file"].is_string() || !e["expect"].is_string()) {
      return Status::InvalidArgument(where + ": expected {\"file\", \"expect\", \"reason\"?}");
    }
    Capture c;
    c.expect_decision = e["expect"].get<std::string>();
    if (c.expect_decision != "grant" && c.expect_decision != "deny") {
      return Status::InvalidArgument(where + ": expect must be grant or deny");
    }
    c.expect_reason = e.value("reason", "");
    const std::filesystem::path file = dir / e["file"].get<std::string>();
    c.label = e.value("label", e["file"].get<std::string>());
    auto jpeg = ReadFile(file);
    if (!jpeg.ok()) return jpeg.status().WithContext(where);
    c.jpeg = std::move(jpeg).value();
    out.push_back(std::move(c));
  }
  return out;
}

Result<json> Run(const Options& options, const std::vector<Capture>& captures) {
  Simulation sim(options, captures);
  return sim.Run();
}

std::string Summary(const json& r) {
  std::ostringstream out;
  out << r.value("shape", "?") << ": " << r.value("terminals", 0) << " terminals, "
      << r.value("requests", 0) << " captures sent, " << r.value("decided", 0) << " decided, "
      << r.value("mismatches", 0) << " mismatches\n";
  if (r["latency_ms"].is_object()) {
    const json& l = r["latency_ms"];
    char line[256];
    std::snprintf(line, sizeof line,
                  "latency ms: min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
                  l.value("min", 0.0), l.value("p50", 0.0), l.value("p90", 0.0),
                  l.value("p99", 0.0), l.value("max", 0.0));
    out << line;
  }
  char line[256];
  std::snprintf(line, sizeof line, "throughput %.1f decisions/s over %.1f s\n",
                r.value("throughput_per_s", 0.0), r.value("duration_s", 0.0));
  out << line;
  out << "http status: " << r["http_status"].dump() << "  errors: " << r["errors"].dump() << "\n";
  out << "decisions: " << r["decisions"].dump() << "\n";
  if (r["server"].is_object()) {
    std::snprintf(line, sizeof line, "server: cpu %.0f%%  peak rss %.0f MiB\n",
                  r["server"].value("cpu_percent", 0.0),
                  static_cast<double>(r["server"].value("peak_rss_bytes", int64_t{0})) / 1048576);
    out << line;
  }
  if (r.contains("ramp")) {
    out << "ramp: knee at " << r["ramp"].value("knee_rate", 0.0) << " captures/s (p99 bound "
        << r["ramp"].value("p99_bound_ms", 0.0) << " ms)\n";
  }
  return out.str();
}

}  // namespace facegate::devsim
