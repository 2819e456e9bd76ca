// Bulk import batches (POST /api/v1/import, docs/admin-api.md): photos embedded in parallel at
// the bulk priority, duplicates checked against the gallery and within the batch, then the
// batch's users, memberships and templates written in one transaction.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <numeric>
#include <thread>

#include "admin/admin_impl.h"
#include "api/capture_request.h"
#include "facegate/core/time_format.h"
#include "facegate/face/matching.h"
#include "facegate/face/quality_json.h"

namespace facegate::admin::internal {

namespace {

struct PhotoJob {
  std::string key;
  std::string_view bytes;
  std::optional<Result<face::FaceAnalysis>> result;
};

struct RowWork {
  int row = 0;
  std::string external_id;
  store::User user;
  std::optional<int64_t> existing_id;
  std::vector<int64_t> group_ids;
  std::vector<size_t> photos;  // indices into the batch's PhotoJobs
  std::vector<face::FaceTemplate> templates;
  std::vector<json> qualities;
  // The row's answer; status empty while it is still going.
  std::string status;
  std::string reason;
  std::string message;
  std::string other_user;
  int existing_templates = 0;
};

void Reject(RowWork& w, std::string reason, std::string message) {
  if (!w.status.empty()) return;
  w.status = "rejected";
  w.reason = std::move(reason);
  w.message = std::move(message);
}

}  // namespace

Reply AdminApiImpl::ImportBatch(Call& c) {
  const std::string content_type(c.ctx->message[net::http::field::content_type]);
  if (content_type.rfind("multipart/form-data", 0) != 0) {
    return ErrorReply(status::unsupported_media_type, "invalid_request",
                      "expected multipart/form-data with a 'manifest' part and the photos");
  }
  const std::string boundary = api::HeaderParameter(content_type, "boundary");
  std::vector<api::FormPart> parts;
  const size_t max_parts = static_cast<size_t>(options().import_max_rows) * 8 + 1;
  if (auto problem = api::ParseMultipart(c.body(), boundary, max_parts, &parts)) {
    return ErrorReply(status::bad_request, "invalid_request", "multipart body: " + *problem);
  }
  const api::FormPart* manifest_part = nullptr;
  std::map<std::string, std::string_view, std::less<>> photo_parts;
  for (const auto& p : parts) {
    if (p.name == "manifest") {
      manifest_part = &p;
    } else {
      photo_parts[p.name] = p.data;
    }
  }
  if (!manifest_part) {
    return ErrorReply(status::bad_request, "invalid_request", "no 'manifest' part",
                      json{{"manifest", "required"}});
  }
  json manifest = json::parse(manifest_part->data, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("rows") || !manifest["rows"].is_array()) {
    return ErrorReply(status::bad_request, "invalid_request",
                      "the manifest is not a JSON object with a 'rows' array",
                      json{{"manifest", "expected {\"rows\": [...]}"}});
  }
  const bool dry_run = manifest.value("dry_run", false);
  const json& rows = manifest["rows"];
  if (rows.size() > static_cast<size_t>(options().import_max_rows)) {
    return ErrorReply(status::payload_too_large, "invalid_request",
                      "at most " + std::to_string(options().import_max_rows) +
                          " rows per batch (admin.import_max_rows)",
                      json{{"rows", "too many"}});
  }
  if (!context().engine) {
    return ErrorReply(status::service_unavailable, "busy",
                      "face work is disabled on this server (face.enabled is false)");
  }
  c.audit_details = {{"rows", rows.size()}, {"dry_run", dry_run}};

  // 1. Validate the rows and look up what exists.
  auto groups = store().ListAccessGroups();
  if (!groups.ok()) return StatusReply(groups.status());
  const bool sync_owned = RefuseSyncOwned("users", store::RecordSource::kLocal).has_value();
  std::vector<PhotoJob> photos;
  std::vector<RowWork> work(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& r = rows[i];
    RowWork& w = work[i];
    if (!r.is_object()) {
      Reject(w, "invalid_row", "row is not a JSON object");
      continue;
    }
    w.row = r.value("row", 0);
    FieldErrors e;
    auto ext = StringField(r, "external_id", &e, true, 128);
    w.external_id = ext.value_or("");
    w.user.external_id = w.external_id;
    if (auto v = StringField(r, "first_name", &e)) w.user.first_name = *v;
    if (auto v = StringField(r, "last_name", &e)) w.user.last_name = *v;
    if (auto v = TimeField(r, "valid_from", &e)) w.user.valid_from = *v;
    if (auto v = TimeField(r, "valid_until", &e)) w.user.valid_until = *v;
    if (!r.contains("photos") || !r["photos"].is_array() || r["photos"].empty()) {
      e.Add("photos", "at least one photo is required");
    }
    if (!e.empty()) {
      std::string what = e.ToReply().body.value("message", "invalid row");
      Reject(w, "invalid_row", what);
      continue;
    }
    auto existing = store().FindUserByExternalId(w.external_id);
    if (existing.ok()) {
      w.existing_id = existing->id;
      auto templates = store().ListTemplatesOfUser(existing->id);
      if (!templates.ok()) return StatusReply(templates.status());
      for (const auto& t : *templates) {
        if (t.source == store::TemplateSource::kImport) ++w.existing_templates;
      }
      if (w.existing_templates > 0) {
        w.status = "skipped";
        w.message = "already imported (" + std::to_string(w.existing_templates) + " templates)";
        continue;
      }
      if (sync_owned || existing->source == store::RecordSource::kShip) {
        w.user = *existing;  // faces are added; the record stays the sync's
      }
    } else if (existing.status().code() != StatusCode::kNotFound) {
      return StatusReply(existing.status());
    } else if (sync_owned) {
      Reject(w, "read_only",
             "user " + w.external_id +
                 " does not exist and users come from Salto Space "
                 "while its sync is on");
      continue;
    }
    if (r.contains("groups") && r["groups"].is_array()) {
      for (const auto& g : r["groups"]) {
        if (!g.is_string()) continue;
        const std::string name = g.get<std::string>();
        bool found = false;
        for (const auto& known : *groups) {
          if (known.external_id == name) {
            w.group_ids.push_back(known.id);
            found = true;
          }
        }
        if (!found) Reject(w, "unknown_group", "no group with external id '" + name + "'");
      }
    }
    if (!w.status.empty()) continue;
    for (const auto& key : r["photos"]) {
      if (!key.is_string() || !photo_parts.count(key.get<std::string>())) {
        Reject(w, "invalid_row", "photo part '" + key.dump() + "' is not in the request");
        break;
      }
      w.photos.push_back(photos.size());
      photos.push_back(PhotoJob{key.get<std::string>(), photo_parts[key.get<std::string>()], {}});
    }
  }

  // 2. Embed every photo in parallel at the bulk priority. A photo displaced from the face
  // queue by door captures (or not started in time) is submitted again until the deadline:
  // doors come first, the import just takes longer.
  const auto deadline =
      clock().Monotonic() + std::chrono::milliseconds(options().enroll_timeout_ms);
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = 0;  // GUARDED_BY(mu)
  std::vector<size_t> todo(photos.size());
  std::iota(todo.begin(), todo.end(), 0);
  while (!todo.empty()) {
    for (size_t i : todo) {
      face::AnalyzeRequest req;
      req.image = std::string(photos[i].bytes);
      req.priority = face::Priority::kBulk;
      req.start_deadline = deadline;
      {
        std::lock_guard lock(mu);
        ++pending;
      }
      Status s = context().engine->Submit(std::move(req), [&, i](Result<face::FaceAnalysis> r) {
        std::lock_guard lock(mu);
        photos[i].result = std::move(r);
        --pending;
        cv.notify_all();
      });
      if (!s.ok()) {  // refused at once (queue full, stopping): its callback never comes
        std::lock_guard lock(mu);
        --pending;
        photos[i].result = s;
      }
    }
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return pending == 0; });
    }
    // Refused by a full queue or displaced by captures: again, while the deadline allows.
    std::vector<size_t> again;
    for (size_t i : todo) {
      const auto& r = photos[i].result;
      if (r && !r->ok() && r->status().code() == StatusCode::kResourceExhausted) {
        again.push_back(i);
      }
    }
    if (again.empty() || clock().Monotonic() >= deadline) break;  // the rest stays "busy"
    for (size_t i : again) photos[i].result.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    todo = std::move(again);
  }

  // 3. Verdicts per row: every photo must pass.
  for (RowWork& w : work) {
    if (!w.status.empty()) continue;
    for (size_t idx : w.photos) {
      const PhotoJob& p = photos[idx];
      if (!p.result || !p.result->ok()) {
        Status s = p.result ? p.result->status() : Status::Internal("not analysed");
        if (s.code() == StatusCode::kResourceExhausted || s.code() == StatusCode::kUnavailable) {
          Reject(w, "busy", "photo " + p.key + ": " + s.message() + " (retry the import)");
        } else {
          Reject(w, "internal", "photo " + p.key + ": " + s.message());
        }
        break;
      }
      const face::FaceAnalysis& a = p.result->value();
      if (!a.accepted()) {
        std::string msg =
            "photo " + p.key + ": " +
            (a.message.empty() ? std::string(face::ReasonName(a.verdict)) : a.message);
        Reject(w, std::string(face::ReasonCategory(a.verdict)), msg);
        break;
      }
      auto t = a.AcceptedTemplate();
      if (!t.ok()) {
        Reject(w, "internal", t.status().message());
        break;
      }
      w.templates.push_back(*t);
      w.qualities.push_back(face::QualityJson(a.faces[a.selected].quality));
    }
  }

  // 4. Duplicates and the write, one batch at a time: two batches holding the same person
  // must not both pass the check before either is written.
  std::lock_guard import_lock(import_mu_);
  const face::MatchPolicy policy = face::PolicyFor(context().matching.security_level, 0);
  for (size_t i = 0; i < work.size(); ++i) {
    RowWork& w = work[i];
    if (!w.status.empty()) continue;
    for (const auto& t : w.templates) {
      if (auto other = DuplicateOf(t, w.existing_id.value_or(-1))) {
        auto u = store().GetUser(*other);
        w.other_user = u.ok() ? u->external_id : std::to_string(*other);
        Reject(w, "duplicate", "the face is already enrolled for user " + w.other_user);
        break;
      }
    }
    // Within the batch: an earlier accepted row with the same person.
    for (size_t j = 0; j < i && w.status.empty(); ++j) {
      const RowWork& earlier = work[j];
      if (!earlier.status.empty() || earlier.external_id == w.external_id) continue;
      for (const auto& a : w.templates) {
        for (const auto& b : earlier.templates) {
          if (face::IsSamePerson(face::L2Distance(a, b), policy)) {
            w.other_user = earlier.external_id;
            Reject(w, "duplicate", "the face is already enrolled for user " + w.other_user);
            break;
          }
        }
        if (!w.status.empty()) break;
      }
    }
  }

  std::vector<store::ImportRow> batch;
  std::vector<size_t> batch_rows;
  for (size_t i = 0; i < work.size(); ++i) {
    RowWork& w = work[i];
    if (!w.status.empty()) continue;
    store::ImportRow row;
    row.user = w.user;
    row.group_ids = w.group_ids;
    for (size_t k = 0; k < w.templates.size(); ++k) {
      store::NewTemplate t;
      t.source = store::TemplateSource::kImport;
      t.model_version = std::string(face::kModelVersion);
      t.values = std::span<const float>(w.templates[k].data(), w.templates[k].size());
      t.quality_json = w.qualities[k].dump();
      KeepPhoto(options(), photos[w.photos[k]].bytes, &t);
      row.templates.push_back(t);
    }
    batch.push_back(std::move(row));
    batch_rows.push_back(i);
  }
  std::vector<store::ImportedRow> written;
  if (!dry_run && !batch.empty()) {
    auto result = store().ImportBatch(batch);
    if (!result.ok()) return StatusReply(result.status());
    written = std::move(result).value();
    SyncGallery();  // the next batch's duplicate check sees these
  }

  json out_rows = json::array();
  int imported = 0, skipped = 0, rejected = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    RowWork& w = work[i];
    json r = {{"row", w.row}, {"external_id", w.external_id}};
    if (w.status.empty()) {
      r["status"] = dry_run ? "valid" : "imported";
      r["templates"] = w.templates.size();
      for (size_t k = 0; k < batch_rows.size(); ++k) {
        if (batch_rows[k] == i && k < written.size()) {
          r["user_id"] = written[k].user_id;
          r["user_created"] = written[k].user_created;
        }
      }
      ++imported;
    } else {
      r["status"] = w.status;
      if (!w.reason.empty()) r["reason"] = w.reason;
      if (!w.message.empty()) r["message"] = w.message;
      if (!w.other_user.empty()) r["other_user"] = w.other_user;
      (w.status == "skipped" ? skipped : rejected)++;
    }
    out_rows.push_back(std::move(r));
  }
  c.audit_details["imported"] = imported;
  c.audit_details["skipped"] = skipped;
  c.audit_details["rejected"] = rejected;
  Reply reply;
  reply.body = {{"dry_run", dry_run},
                {"imported", imported},
                {"skipped", skipped},
                {"rejected", rejected},
                {"rows", out_rows}};
  return reply;
}

}  // namespace facegate::admin::internal
