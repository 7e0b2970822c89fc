// The loader: every sample exactly once per epoch, shuffles that depend on seed and epoch only,
// identical batches for any worker count, resume from a batch, and unreadable samples skipped.
#include "common/error.h"
#include "data/loader.h"

#include <gtest/gtest.h>

#include <set>

namespace zoo {
namespace {

// Sample i is the constant image i (+ a value drawn from its seed); sample 7 cannot be read
// when `broken` is set.
class CountingDataset : public Dataset {
 public:
  CountingDataset(size_t n, bool broken) : n_(n), broken_(broken) {
    spec_.channels = 1;
    spec_.height = spec_.width = 2;
  }
  size_t size() const override { return n_; }
  int64_t label(size_t index) const override { return static_cast<int64_t>(index % 3); }
  void load(size_t index, float* out, uint64_t seed) const override {
    if (broken_ && index == 7) throw data_error("sample 7 is corrupt");
    for (int i = 0; i < 4; ++i) out[i] = static_cast<float>(index) + (seed % 1000) * 1e-4f;
  }
  const SampleSpec& spec() const override { return spec_; }
  std::string describe(size_t index) const override { return "item" + std::to_string(index); }

 private:
  size_t n_;
  bool broken_;
  SampleSpec spec_;
};

std::vector<torch::Tensor> epoch_batches(int workers, int64_t epoch, uint64_t seed = 3,
                                         bool broken = false, int64_t first = 0) {
  LoaderOptions o;
  o.batch_size = 8;
  o.workers = workers;
  o.seed = seed;
  Loader loader(std::make_shared<CountingDataset>(100, broken), o);
  loader.start_epoch(epoch, first);
  std::vector<torch::Tensor> out;
  while (auto b = loader.next()) out.push_back(b->inputs().clone());
  return out;
}

TEST(Loader, EverySampleOncePerEpoch) {
  auto batches = epoch_batches(2, 0);
  ASSERT_EQ(batches.size(), 13u);  // ceil(100 / 8)
  EXPECT_EQ(batches.back().size(0), 4);
  std::multiset<int64_t> seen;
  for (const auto& b : batches) {
    for (int64_t i = 0; i < b.size(0); ++i) seen.insert(static_cast<int64_t>(b[i][0][0][0].item<float>()));
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 100u);
}

TEST(Loader, DeterministicAcrossWorkerCounts) {
  auto reference = epoch_batches(0, 1);
  for (int workers : {1, 2, 4}) {
    auto other = epoch_batches(workers, 1);
    ASSERT_EQ(other.size(), reference.size());
    for (size_t i = 0; i < other.size(); ++i) {
      EXPECT_TRUE(torch::equal(other[i], reference[i])) << workers << " workers, batch " << i;
    }
  }
  // Another epoch or seed shuffles differently.
  EXPECT_FALSE(torch::equal(epoch_batches(1, 2)[0], reference[0]));
  EXPECT_FALSE(torch::equal(epoch_batches(1, 1, 4)[0], reference[0]));
}

TEST(Loader, StartsMidEpoch) {
  auto full = epoch_batches(2, 5);
  auto tail = epoch_batches(2, 5, 3, false, 10);
  ASSERT_EQ(tail.size(), 3u);
  for (size_t i = 0; i < tail.size(); ++i) EXPECT_TRUE(torch::equal(tail[i], full[10 + i]));
}

TEST(Loader, DropLastAndRestart) {
  LoaderOptions o;
  o.batch_size = 8;
  o.drop_last = true;
  o.workers = 2;
  Loader loader(std::make_shared<CountingDataset>(100, false), o);
  EXPECT_EQ(loader.batches_per_epoch(), 12);
  loader.start_epoch(0);
  loader.next();
  loader.start_epoch(1);  // restarting mid-epoch discards the old epoch's work
  int n = 0;
  while (loader.next()) ++n;
  EXPECT_EQ(n, 12);
}

TEST(Loader, SkipsUnreadableSamples) {
  LoaderOptions o;
  o.batch_size = 8;
  o.workers = 2;
  Loader loader(std::make_shared<CountingDataset>(100, true), o);
  loader.start_epoch(0);
  int64_t total = 0;
  while (auto b = loader.next()) {
    total += b->inputs().size(0);
    EXPECT_EQ(b->inputs().size(0), b->targets().size(0));
  }
  EXPECT_EQ(total, 99);
  EXPECT_EQ(loader.skipped(), 1);
}

TEST(Loader, RejectsBadOptions) {
  LoaderOptions o;
  o.batch_size = 0;
  EXPECT_THROW(Loader(std::make_shared<CountingDataset>(10, false), o), Error);
}

}  // namespace
}  // namespace zoo
