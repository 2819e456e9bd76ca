#include "photoset/render.h"

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facegate/face/matching.h"

namespace facegate::photoset {

std::vector<const SeedFace*> DemoPeople::SeedsOf(int identity) const {
  std::vector<const SeedFace*> mine;
  for (const auto& s : seeds) {
    if (s.identity == identity) mine.push_back(&s);
  }
  return mine;
}

Result<std::unique_ptr<face::FaceEngine>> OpenEngine(const std::filesystem::path& models_dir,
                                                     int workers) {
  face::FaceOptions fo;
  fo.models_dir = models_dir;
  fo.workers = workers;
  fo.queue_size = 64;
  fo.queue_timeout_ms = 600000;
  return face::FaceEngine::Open(fo);
}

Result<DemoPeople> FindDemoPeople(face::FaceEngine& engine,
                                  const std::filesystem::path& models_dir) {
  DemoPeople people;
  people.photos.resize(7);
  for (int i = 1; i <= 6; ++i) {
    auto file = models_dir / "demo" / ("sample" + std::to_string(i) + ".jpg");
    people.photos[i] = cv::imread(file.string(), cv::IMREAD_COLOR);
    if (people.photos[i].empty()) return Status::NotFound("cannot read " + file.string());
    face::AnalyzeRequest r;
    r.image = Encode(people.photos[i], 95);
    r.templates_for_all_faces = true;
    r.priority = face::Priority::kBulk;
    auto a = engine.Analyze(std::move(r));
    if (!a.ok()) return a.status();
    for (const auto& f : a->faces) {
      if (f.reason != face::Reason::kOk || !f.has_template) continue;
      SeedFace s;
      s.photo = i;
      s.centre = {f.box.left + f.box.width / 2.0f, f.box.top + f.box.height / 2.0f};
      s.side = static_cast<float>(f.box.width);
      s.tmpl = f.face_template;
      people.seeds.push_back(s);
    }
  }
  for (auto& s : people.seeds) {
    for (size_t k = 0; k < people.refs.size() && s.identity < 0; ++k) {
      if (face::L2Distance(s.tmpl, people.refs[k]) < kSamePerson) s.identity = static_cast<int>(k);
    }
    if (s.identity < 0) {
      s.identity = static_cast<int>(people.refs.size());
      people.refs.push_back(s.tmpl);
    }
  }
  return people;
}

std::string Encode(const cv::Mat& bgr, int quality) {
  std::vector<uchar> buf;
  cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
  return std::string(buf.begin(), buf.end());
}

cv::Mat Render(const cv::Mat& photo, const SeedFace& seed, std::mt19937& rng) {
  std::uniform_real_distribution<float> face_px(190, 260), angle(-6, 6), shift(-60, 60),
      gain(0.85f, 1.15f), bias(-15, 15);
  const float zoom = face_px(rng) / seed.side;
  cv::Mat m = cv::getRotationMatrix2D(seed.centre, angle(rng), zoom);
  m.at<double>(0, 2) += kWidth / 2.0 + shift(rng) - seed.centre.x;
  m.at<double>(1, 2) += kHeight / 2.0 + shift(rng) * 0.6 - seed.centre.y;
  cv::Mat out;
  cv::warpAffine(photo, out, m, cv::Size(kWidth, kHeight), cv::INTER_LINEAR, cv::BORDER_REFLECT);
  if (rng() % 2) cv::flip(out, out, 1);
  out.convertTo(out, -1, gain(rng), bias(rng));
  return out;
}

double AnalyzeAll(face::FaceEngine& engine, std::vector<Candidate>& cands) {
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto& c : cands) {
    for (;;) {
      face::AnalyzeRequest r;
      r.image = c.jpeg;
      r.priority = face::Priority::kBulk;
      {
        std::lock_guard lock(mu);
        ++pending;
      }
      Status s =
          engine.Submit(std::move(r), [&mu, &cv, &pending, &c](Result<face::FaceAnalysis> a) {
            std::lock_guard lock(mu);
            c.result = std::move(a);
            --pending;
            cv.notify_all();
          });
      if (s.ok()) break;
      std::unique_lock lock(mu);
      --pending;
      // Queue full: wait for a job to finish, then submit again.
      cv.wait_for(lock, std::chrono::milliseconds(10));
    }
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return pending == 0; });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::optional<face::FaceTemplate> OnlyFace(const Candidate& c) {
  if (!c.result || !c.result->ok() || !(*c.result)->accepted() || (*c.result)->faces.size() != 1) {
    return std::nullopt;
  }
  auto t = (*c.result)->AcceptedTemplate();
  if (!t.ok()) return std::nullopt;
  return *t;
}

Status WriteBytes(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return Status::IOError("cannot write " + p.string());
  return Status::Ok();
}

}  // namespace facegate::photoset
