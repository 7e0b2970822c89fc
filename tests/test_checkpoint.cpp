// Checkpoints: a round trip reproduces identical outputs and optimizer behaviour, metadata
// survives, bad files are refused cleanly, a writer killed mid-save never leaves a
// half-written file under the final name, every flipped byte of a tensor or of the metadata is
// detected and named, the previous checkpoint is kept, and format 2 files still load.
#include "app/engine/checkpoint.h"
#include "app/engine/model_io.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "models/registry.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

#include <torch/serialize/output-archive.h>

#include <csignal>
#include <random>
#include <thread>

namespace zoo {
namespace {

using test::TempDir;

void sgd_step(ClassifierImpl& m, torch::optim::SGD& opt, const torch::Tensor& x) {
  opt.zero_grad();
  torch::nn::functional::cross_entropy(m.forward(x), torch::arange(x.size(0)) % 10).backward();
  opt.step();
}

TEST(Checkpoint, RoundTripIsExact) {
  TempDir dir;
  torch::manual_seed(3);
  Classifier a = build_classifier("lenet5", ModelOptions{10});
  torch::optim::SGD opt_a(a->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  auto x = torch::randn({4, 1, 28, 28});
  sgd_step(*a, opt_a, x);  // momentum buffers now hold state
  nlohmann::json meta = {{"model", "lenet5"}, {"class_names", {"a", "b"}}};
  save_checkpoint(dir / "a.pt", meta, state_dict_of(*a), &opt_a);

  Checkpoint c = load_checkpoint(dir / "a.pt");
  EXPECT_EQ(c.meta["model"], "lenet5");
  EXPECT_EQ(c.meta["format_version"], kCheckpointFormatVersion);
  ASSERT_TRUE(c.optimizer.has_value());
  ASSERT_TRUE(c.rng_cpu.defined());
  torch::manual_seed(99);
  Classifier b = build_classifier("lenet5", ModelOptions{10});
  load_state_dict(*b, c.model, LoadMode::kStrict, "a.pt");
  torch::optim::SGD opt_b(b->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  opt_b.load(*c.optimizer);
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  // One more step from the restored momentum lands on identical weights.
  sgd_step(*a, opt_a, x);
  sgd_step(*b, opt_b, x);
  auto sa = state_dict_of(*a), sb = state_dict_of(*b);
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
}

TEST(Checkpoint, RefusesWhatIsNotACheckpoint) {
  TempDir dir;
  auto kind = [](const std::string& path) {
    try {
      load_checkpoint(path);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::kInternal;
  };
  EXPECT_EQ(kind(dir / "none.pt"), ErrorKind::kMissingInput);
  test::write_file(dir / "junk.pt", "this is not a zip file at all");
  EXPECT_EQ(kind(dir / "junk.pt"), ErrorKind::kBadData);
  test::write_file(dir / "empty.pt", "");
  EXPECT_EQ(kind(dir / "empty.pt"), ErrorKind::kBadData);
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  save_checkpoint(dir / "ok.pt", {{"model", "lenet5"}}, state_dict_of(*m), nullptr);
  const std::string bytes = test::read_file(dir / "ok.pt");
  test::write_file(dir / "cut.pt", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(kind(dir / "cut.pt"), ErrorKind::kBadData);
}

TEST(Checkpoint, HostileMetadataWithGoodChecksumsIsBadData) {
  // Checksums prove a file is what its writer wrote, not that the writer was zoo: metadata of
  // the wrong types or absurd numbers must be answered with 65, never a JSON exception (70) or
  // an out-of-range conversion.
  TempDir dir;
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  const nlohmann::json good = {{"model", "lenet5"},
                               {"input_shape", {1, 28, 28}},
                               {"normalization", {{"mean", {0.5, 0.5, 0.5}}, {"std", {0.5, 0.5, 0.5}}}},
                               {"resize", 0},
                               {"class_names", std::vector<std::string>(10, "c")},
                               {"model_options", {{"num_classes", 10}}}};
  save_checkpoint(dir / "good.pt", good, state_dict_of(*m), nullptr);
  EXPECT_EQ(load_classifier(dir / "good.pt", "lenet5").model_name, "lenet5");
  std::vector<nlohmann::json> bad(6, good);
  bad[0]["model"] = 5;
  bad[1]["task"] = nlohmann::json::array();
  bad[2]["input_shape"] = {1, 1e300, 28};
  bad[3]["input_shape"] = {1, -28, 28};
  bad[4]["resize"] = 2.5;
  bad[5]["model_options"]["num_classes"] = 1e300;
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string path = dir / ("bad" + std::to_string(i) + ".pt");
    save_checkpoint(path, bad[i], state_dict_of(*m), nullptr);
    EXPECT_EQ(test::kind_of([&] { load_classifier(path, ""); }), ErrorKind::kBadData) << bad[i].dump();
  }
}

TEST(Checkpoint, WriteFailureLeavesPreviousFile) {
  TempDir dir;
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  try {
    save_checkpoint(dir / "no/such/dir/x.pt", {}, state_dict_of(*m), nullptr);
    FAIL() << "saved into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIO);
  }
}

TEST(Checkpoint, DiskFullLeavesPreviousFileAndNoTemporary) {
  // A file-size limit makes the write fail part way (EFBIG), as a full disk does (ENOSPC); it is
  // set in a child so that the test process keeps its limits.
  TempDir dir;
  const std::string path = dir / "last.pt";
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  save_checkpoint(path, {{"generation", 1}}, state_dict_of(*m), nullptr);
  const std::string before = test::read_file(path);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {256 * 1024, 256 * 1024};  // the big save needs 4 MiB
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const StateDict big = {{"w", torch::randn({1 << 20})}};
    try {
      save_checkpoint(path, {{"generation", 2}}, big, nullptr);
    } catch (const Error& e) {
      ::_exit(e.kind() == ErrorKind::kIO && exit_code(e) == 74 ? 0 : 2);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(1);  // the save claimed success
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: wrong kind, 3: not a zoo::Error";
  EXPECT_EQ(test::read_file(path), before);
  EXPECT_EQ(load_checkpoint(path).meta["generation"].get<int>(), 1);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "last.pt") << "left behind: " << e.path();
  }
  EXPECT_EQ(entries, 1);
}

TEST(Checkpoint, KilledWriterNeverLeavesHalfFile) {
  TempDir dir;
  const std::string path = dir / "last.pt";
  // A big model makes each save take a while, so the kill lands mid-write.
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  save_checkpoint(path, {{"model", "lenet5"}, {"generation", 0}}, state_dict_of(*m), nullptr);
  const StateDict big = {{"w", torch::randn({4 << 20})}};  // 16 MiB per save
  auto inode = [&] {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  for (int round = 0; round < 3; ++round) {
    const ino_t before = inode();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int g = 1;; ++g) save_checkpoint(path, {{"generation", g}}, big, nullptr, false);
    }
    // Wait for one save to land (a rename gives the name a new inode), then kill the writer at
    // a different point of a later save each round, however loaded the machine is.
    for (int i = 0; i < 6000 && inode() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 45 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    Checkpoint c = load_checkpoint(path);  // whichever generation it is, it is whole
    EXPECT_TRUE(c.meta.contains("generation"));
  }
  // The killed writers' temporaries are the only debris; the final name was never torn.
  EXPECT_GT(load_checkpoint(path).meta["generation"].get<int>(), 0);
}

// Loads `path`; kBadData's message, "" when the file loads and equals `original` in every
// tensor and the metadata, or a description of what differs.
std::string load_outcome(const std::string& path, const Checkpoint& original) {
  Checkpoint c;
  try {
    c = load_checkpoint(path);
  } catch (const Error& e) {
    return e.kind() == ErrorKind::kBadData ? e.what() : "wrong kind: " + std::string(e.what());
  }
  if (c.meta != original.meta) return "SILENT: the metadata differs";
  if (c.model.size() != original.model.size()) return "SILENT: the tensors differ";
  for (size_t i = 0; i < c.model.size(); ++i) {
    if (c.model[i].first != original.model[i].first || !torch::equal(c.model[i].second, original.model[i].second)) {
      return "SILENT: tensor " + original.model[i].first + " differs";
    }
  }
  if (!torch::equal(c.rng_cpu, original.rng_cpu)) return "SILENT: the RNG state differs";
  return "";
}

TEST(Checkpoint, EveryFlippedByteOfTensorsOrMetadataIsDetected) {
  TempDir dir;
  torch::manual_seed(5);
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  torch::optim::SGD opt(m->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  sgd_step(*m, opt, torch::randn({4, 1, 28, 28}));
  const std::string path = dir / "a.pt", bad = dir / "bad.pt";
  save_checkpoint(path, {{"model", "lenet5"}, {"class_names", {"a", "b"}}}, state_dict_of(*m), &opt);
  const Checkpoint original = load_checkpoint(path);
  EXPECT_EQ(original.checksums, int(original.model.size()) + 3);  // + optimizer, RNG, metadata
  const std::string bytes = test::read_file(path);

  // Where each part lies in the file: the metadata's text and every tensor's bytes.
  struct Region {
    std::string name;  // what the error must name
    size_t begin, size;
  };
  std::vector<Region> regions;
  const std::string meta_text = original.meta.dump();
  regions.push_back({"its metadata", bytes.find(meta_text), meta_text.size()});
  for (const auto& [name, t] : original.model) {
    regions.push_back({"tensor model/" + name, bytes.find(std::string(static_cast<const char*>(t.data_ptr()), t.nbytes())),
                       t.nbytes()});
  }
  regions.push_back({"tensor rng_cpu",
                     bytes.find(std::string(static_cast<const char*>(original.rng_cpu.data_ptr()), original.rng_cpu.nbytes())),
                     original.rng_cpu.nbytes()});
  std::mt19937 rng(7);
  int flips = 0;
  for (const Region& r : regions) {
    ASSERT_NE(r.begin, std::string::npos) << r.name;
    // Every byte of the metadata and of small tensors; 40 spread over each larger one; each
    // flipped in one bit and in all eight.
    const size_t step = std::max<size_t>(1, r.size / 40);
    for (size_t off = 0; off < r.size; off += step) {
      for (const unsigned char mask : {static_cast<unsigned char>(1u << (rng() % 8)), static_cast<unsigned char>(0xff)}) {
        std::string copy = bytes;
        copy[r.begin + off] = static_cast<char>(copy[r.begin + off] ^ mask);
        test::write_file(bad, copy);
        const std::string outcome = load_outcome(bad, original);
        ++flips;
        ASSERT_NE(outcome.find(r.name), std::string::npos) << "byte " << off << " of " << r.name << ": " << outcome;
        EXPECT_NE(outcome.find("is damaged"), std::string::npos) << outcome;
      }
    }
  }
  // Anywhere in the file (zip headers, the pickles, the optimizer's archive): an error, or a
  // file that loads exactly as it was written. Never a silent difference.
  for (int i = 0; i < 600; ++i) {
    const size_t off = rng() % bytes.size();
    std::string copy = bytes;
    copy[off] = static_cast<char>(copy[off] ^ (1u << (rng() % 8)));
    test::write_file(bad, copy);
    const std::string outcome = load_outcome(bad, original);
    ++flips;
    EXPECT_EQ(outcome.find("SILENT"), std::string::npos) << "byte " << off << ": " << outcome;
    EXPECT_EQ(outcome.find("wrong kind"), std::string::npos) << "byte " << off << ": " << outcome;
  }
  EXPECT_GT(flips, 1000);
}

TEST(Checkpoint, KeepsThePreviousCheckpoint) {
  TempDir dir;
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  const std::string last = dir / "last.pt", previous = dir / "previous.pt";
  for (int g = 1; g <= 3; ++g) save_checkpoint(last, {{"generation", g}}, state_dict_of(*m), nullptr, true, {}, previous);
  EXPECT_EQ(load_checkpoint(last).meta["generation"], 3);
  EXPECT_EQ(load_checkpoint(previous).meta["generation"], 2);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator{}), 2);
}

TEST(Checkpoint, StaleTemporariesOfKilledWritersAreRemoved) {
  TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // a pid that is no process now
  const std::string dead = std::to_string(child), alive = std::to_string(::getpid());
  for (const std::string& name : std::vector<std::string>{".last.pt.tmp." + dead + ".0", ".last.pt.tmp." + dead + ".3.previous",
                                                         ".last.pt.tmp." + alive + ".1", "last.pt", "notes.tmp.txt"}) {
    test::write_file(dir / name, "x");
  }
  EXPECT_EQ(remove_stale_temporaries(dir.path().string()), 2);
  EXPECT_TRUE(std::filesystem::exists(dir / (".last.pt.tmp." + alive + ".1")));  // a live writer's
  EXPECT_TRUE(std::filesystem::exists(dir / "last.pt"));
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.tmp.txt"));
}

TEST(Checkpoint, FormatTwoFilesStillLoadUnchecked) {
  // A file as format 2 wrote it: the optimizer nested as "optimizer", no checksums.
  TempDir dir;
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  torch::optim::SGD opt(m->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  sgd_step(*m, opt, torch::randn({2, 1, 28, 28}));
  torch::serialize::OutputArchive archive, nested;
  archive.write("meta", c10::IValue(nlohmann::json{{"format", "zoo-checkpoint"}, {"format_version", 2}, {"model", "lenet5"}}.dump()));
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : state_dict_of(*m)) dict.insert(name, t.detach());
  archive.write("model", c10::IValue(dict));
  opt.save(nested);
  archive.write("optimizer", nested);
  archive.save_to(dir / "v2.pt");
  const Checkpoint c = load_checkpoint(dir / "v2.pt");
  EXPECT_EQ(c.checksums, 0);
  EXPECT_TRUE(c.optimizer.has_value());
  EXPECT_EQ(c.model.size(), state_dict_of(*m).size());
}

}  // namespace
}  // namespace zoo
