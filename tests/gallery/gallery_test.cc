// Gallery: the index loaded from a real store and kept in step with it, including writes made
// through another connection (facegatectl beside the daemon) and erasures.
#include "facegate/gallery/gallery.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "facegate/store/keyring.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace facegate::gallery {
namespace {

constexpr std::string_view kModel = face::kModelVersion;

face::FaceTemplate RandomTemplate(std::mt19937& rng) {
  std::normal_distribution<float> normal;
  face::FaceTemplate t;
  float norm = 0;
  for (float& x : t) {
    x = normal(rng);
    norm += x * x;
  }
  // Real templates have a norm near 1 and random unit vectors are ~1.41 apart: far beyond any
  // threshold, so only the template itself (or one made near it) matches.
  for (float& x : t) x /= std::sqrt(norm);
  return t;
}

// `t` moved by a small random offset of L2 length `distance`.
face::FaceTemplate Near(const face::FaceTemplate& t, float distance, std::mt19937& rng) {
  face::FaceTemplate noise = RandomTemplate(rng);
  face::FaceTemplate out;
  for (size_t i = 0; i < t.size(); ++i) out[i] = t[i] + distance * noise[i];
  return out;
}

class GalleryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.db_file = dir_.path() / "facegate.db";
    options_.key_dir = dir_.path() / "keys";
    ASSERT_TRUE(store::Keyring::EnsureFirstKey(options_.key_dir).ok());
    store_ = OpenStore();
  }
  std::unique_ptr<store::Store> OpenStore() {
    auto s = store::Store::Open(options_, clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  int64_t Enroll(store::Store& store, const std::string& external_id, const face::FaceTemplate& t,
                 std::string_view model = kModel) {
    auto user = store.FindUserByExternalId(external_id);
    int64_t user_id = 0;
    if (user.ok()) {
      user_id = user->id;
    } else {
      store::User u;
      u.external_id = external_id;
      auto id = store.UpsertUser(u);
      EXPECT_TRUE(id.ok()) << id.status().ToString();
      user_id = *id;
    }
    store::NewTemplate nt;
    nt.user_id = user_id;
    nt.model_version = model;
    nt.values = std::span<const float>(t.data(), t.size());
    auto tid = store.AddTemplate(nt);
    EXPECT_TRUE(tid.ok()) << tid.status().ToString();
    return user_id;
  }
  std::unique_ptr<Gallery> OpenGallery(GalleryOptions o = {}) {
    auto g = Gallery::Open(store_.get(), o, std::string(kModel), matching_, clock_, &metrics_);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? std::move(g).value() : nullptr;
  }
  face::MatchPolicy Policy() const { return face::PolicyFor(face::SecurityLevel::kNormal, 0.04); }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  store::StoreOptions options_;
  std::unique_ptr<store::Store> store_;
  face::MatchingOptions matching_;
  MetricsRegistry metrics_;
  std::mt19937 rng_{1234};
};

TEST_F(GalleryTest, EmptyStoreGivesAnEmptyGalleryThatMatchesNobody) {
  auto g = OpenGallery();
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->Stats().templates, 0u);
  auto d = g->Identify(RandomTemplate(rng_), Policy());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->outcome, face::MatchOutcome::kNoMatch);
}

TEST_F(GalleryTest, LoadsEveryTemplateOfTheCurrentModelOnly) {
  std::vector<face::FaceTemplate> people;
  for (int i = 0; i < 50; ++i) {
    people.push_back(RandomTemplate(rng_));
    Enroll(*store_, "p" + std::to_string(i), people.back());
  }
  Enroll(*store_, "p0", RandomTemplate(rng_));              // a second template of p0
  Enroll(*store_, "old", RandomTemplate(rng_), "old-net");  // never loaded
  auto g = OpenGallery();
  ASSERT_NE(g, nullptr);
  GalleryStats st = g->Stats();
  EXPECT_EQ(st.templates, 51u);
  EXPECT_EQ(st.identities, 50u);
  EXPECT_GT(st.change_position, 0);

  auto p7 = store_->FindUserByExternalId("p7");
  ASSERT_TRUE(p7.ok());
  auto d = g->Identify(Near(people[7], 0.2f, rng_), Policy());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, face::MatchOutcome::kMatch);
  EXPECT_EQ(d->person_id, p7->id);
  EXPECT_NEAR(d->distance, 0.2, 0.01);  // L2, not squared
}

TEST_F(GalleryTest, FollowsAdditionsAndErasuresMadeByAnotherProcess) {
  const face::FaceTemplate alice = RandomTemplate(rng_);
  Enroll(*store_, "alice", alice);
  auto g = OpenGallery();
  ASSERT_NE(g, nullptr);

  auto other = OpenStore();  // facegatectl beside the daemon
  const face::FaceTemplate bob = RandomTemplate(rng_);
  const int64_t bob_id = Enroll(*other, "bob", bob);
  EXPECT_EQ(g->Identify(bob, Policy())->outcome, face::MatchOutcome::kNoMatch);
  ASSERT_TRUE(g->Sync().ok());
  auto found = g->Identify(bob, Policy());
  EXPECT_EQ(found->outcome, face::MatchOutcome::kMatch);
  EXPECT_EQ(found->person_id, bob_id);
  EXPECT_EQ(g->Stats().identities, 2u);

  ASSERT_TRUE(other->EraseUser(bob_id).ok());
  ASSERT_TRUE(g->Sync().ok());
  EXPECT_EQ(g->Identify(bob, Policy())->outcome, face::MatchOutcome::kNoMatch);
  EXPECT_EQ(g->Stats().templates, 1u);
  EXPECT_EQ(g->Stats().identities, 1u);
}

TEST_F(GalleryTest, TwoPeopleTooCloseAreAmbiguous) {
  const face::FaceTemplate a = RandomTemplate(rng_);
  Enroll(*store_, "twin-a", a);
  Enroll(*store_, "twin-b", Near(a, 0.05f, rng_));
  auto g = OpenGallery();
  auto d = g->Identify(Near(a, 0.1f, rng_), Policy());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, face::MatchOutcome::kAmbiguous);
}

TEST_F(GalleryTest, BackgroundSyncPicksUpChangesWithoutACall) {
  GalleryOptions o;
  o.sync_interval_ms = 20;
  auto g = OpenGallery(o);
  g->StartBackgroundSync();
  const face::FaceTemplate carol = RandomTemplate(rng_);
  Enroll(*store_, "carol", carol);
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {  // bounded: up to 10 s on a loaded machine
    seen = g->Identify(carol, Policy())->outcome == face::MatchOutcome::kMatch;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(seen);
}

TEST_F(GalleryTest, ReportsStrangerRiskForTheGallerySizeInMetrics) {
  matching_.max_stranger_probability = 0.02;
  for (int i = 0; i < 40; ++i) Enroll(*store_, "p" + std::to_string(i), RandomTemplate(rng_));
  auto g = OpenGallery();
  GalleryStats st = g->Stats();
  const double expected = face::StrangerFalseMatchProbability(
      face::OperatingPointFor(face::SecurityLevel::kNormal).target_far, 40);
  EXPECT_NEAR(st.stranger_risk.probability, expected, 1e-12);
  EXPECT_TRUE(st.stranger_risk.above_bound);  // 40 people at 6e-4 is ~2.4 %
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(text.find("facegate_gallery_identities 40"), std::string::npos) << text;
  EXPECT_NE(text.find("facegate_gallery_stranger_risk_above_bound 1"), std::string::npos);
  EXPECT_NE(text.find("facegate_gallery_stranger_false_match_probability"), std::string::npos);
}

TEST_F(GalleryTest, ATamperedTemplateFailsTheLoad) {
  Enroll(*store_, "alice", RandomTemplate(rng_));
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.db_file.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "UPDATE face_templates SET ciphertext = "
                           "zeroblob(length(ciphertext))",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  store_ = OpenStore();
  auto g = Gallery::Open(store_.get(), {}, std::string(kModel), matching_, clock_, nullptr);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kCorruption) << g.status().ToString();
}

TEST_F(GalleryTest, SearchesGoOnWhileAnotherConnectionEnrollsAndErases) {
  const face::FaceTemplate anchor = RandomTemplate(rng_);
  const int64_t anchor_id = Enroll(*store_, "anchor", anchor);
  auto g = OpenGallery();
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, searches{0};
  std::thread searcher([&] {
    while (!stop.load()) {
      auto d = g->Identify(anchor, Policy());
      if (!d.ok() || d->person_id != anchor_id) wrong.fetch_add(1);
      searches.fetch_add(1);
    }
  });
  auto other = OpenStore();
  std::mt19937 rng(99);
  for (int i = 0; i < 30; ++i) {
    const int64_t id = Enroll(*other, "tmp" + std::to_string(i), RandomTemplate(rng));
    ASSERT_TRUE(g->Sync().ok());
    if (i % 2 == 0) {
      ASSERT_TRUE(other->EraseUser(id).ok());
      ASSERT_TRUE(g->Sync().ok());
    }
  }
  stop.store(true);
  searcher.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(g->Stats().identities, 16u);  // anchor + 15 kept
}

}  // namespace
}  // namespace facegate::gallery
