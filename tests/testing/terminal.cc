#include "testing/terminal.h"

#include <openssl/rand.h>

#include <memory>

namespace facegate::testing {
namespace {

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace

FormBody BuildMultipart(const std::vector<FormPart>& parts) {
  // 128 random bits: no JPEG or JSON part contains the delimiter by chance.
  const std::string boundary = "facegate-test-" + RandomHex(16);
  FormBody out;
  out.content_type = "multipart/form-data; boundary=" + boundary;
  for (const auto& p : parts) {
    out.body += "--" + boundary + "\r\n";
    out.body += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) out.body += "; filename=\"" + p.filename + "\"";
    out.body += "\r\n";
    if (!p.content_type.empty()) out.body += "Content-Type: " + p.content_type + "\r\n";
    out.body += "\r\n" + p.data + "\r\n";
  }
  out.body += "--" + boundary + "--\r\n";
  return out;
}

Terminal::Terminal(std::string host, uint16_t port, std::string ca_pem)
    : host_(std::move(host)), port_(port), ca_pem_(std::move(ca_pem)) {}

void Terminal::SetIdentity(std::string certificate_pem, std::string private_key_pem) {
  certificate_pem_ = std::move(certificate_pem);
  private_key_pem_ = std::move(private_key_pem);
}

Result<std::unique_ptr<TlsClient>> Terminal::Connect(bool with_certificate) const {
  TlsClientOptions o;
  o.ca_pem = ca_pem_;
  // Face work on a shared machine can take a while under load; the tests bound it themselves.
  o.timeout = std::chrono::milliseconds(20000);
  if (with_certificate && !certificate_pem_.empty()) {
    o.client_cert_pem = certificate_pem_;
    o.client_key_pem = private_key_pem_;
  }
  return TlsClient::Connect(host_, port_, o);
}

Result<HttpReply> Terminal::Request(const std::string& method, const std::string& target,
                                    const std::string& body,
                                    const std::map<std::string, std::string>& headers,
                                    bool with_certificate) const {
  auto client = Connect(with_certificate);
  if (!client.ok()) return client.status();
  return (*client)->Request(method, target, body, headers);
}

void Terminal::KeepCertificate(const HttpReply& reply, const std::string& private_key_pem) {
  if (reply.status != 200) return;
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (!j.is_object() || !j.contains("certificate") || !j["certificate"].is_string()) return;
  certificate_pem_ = j["certificate"].get<std::string>();
  private_key_pem_ = private_key_pem;
  if (j.contains("device_id") && j["device_id"].is_number_integer()) {
    device_id_ = j["device_id"].get<int64_t>();
  }
}

Result<HttpReply> Terminal::Commission(const std::string& code, TerminalKeyType key_type,
                                       const std::string& firmware) {
  auto pair = MakeKeyAndCsr(key_type);
  if (!pair.ok()) return pair.status();
  nlohmann::json body = {{"code", code}, {"csr", pair->csr_pem}, {"firmware", firmware}};
  auto reply = Request("POST", "/api/v1/commission", body.dump(),
                       {{"Content-Type", "application/json"}}, /*with_certificate=*/false);
  if (reply.ok()) KeepCertificate(*reply, pair->private_key_pem);
  return reply;
}

Result<HttpReply> Terminal::CommissionRaw(const std::string& body) {
  return Request("POST", "/api/v1/commission", body, {{"Content-Type", "application/json"}},
                 /*with_certificate=*/false);
}

Result<HttpReply> Terminal::Renew(TerminalKeyType key_type) {
  auto pair = MakeKeyAndCsr(key_type);
  if (!pair.ok()) return pair.status();
  nlohmann::json body = {{"csr", pair->csr_pem}};
  auto reply =
      Request("POST", "/api/v1/renew", body.dump(), {{"Content-Type", "application/json"}});
  if (reply.ok()) KeepCertificate(*reply, pair->private_key_pem);
  return reply;
}

Result<HttpReply> Terminal::Heartbeat(const nlohmann::json& body) {
  return Request("POST", "/api/v1/heartbeat", body.dump(), {{"Content-Type", "application/json"}});
}

Result<HttpReply> Terminal::Access(const std::string& image, const std::string& content_type,
                                   const std::map<std::string, std::string>& headers) {
  std::map<std::string, std::string> all = headers;
  all["Content-Type"] = content_type;
  return Request("POST", "/api/v1/access", image, all);
}

Result<HttpReply> Terminal::AccessMultipart(const std::vector<FormPart>& parts,
                                            const std::map<std::string, std::string>& headers) {
  FormBody form = BuildMultipart(parts);
  std::map<std::string, std::string> all = headers;
  all["Content-Type"] = form.content_type;
  return Request("POST", "/api/v1/access", form.body, all);
}

}  // namespace facegate::testing
