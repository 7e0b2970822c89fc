// Pretrained weights by name (weights/catalogue, download, hub; zoo weights), with no network:
// a loopback HTTP server (tests/http_server.h) serves files whose names carry their real
// SHA-256 prefix. Checked: fetch, cache hit without a request, resume after a cut connection
// and from an earlier partial file, a corrupted byte (verification fails, file deleted, exit
// 65), 404, a stalled server (timeout), a file:// mirror, offline mode, two concurrent fetches
// of one file (one download), `zoo weights verify`, name resolution, and the catalogue against
// the installed torchvision's weight enums.
#include "models/registry.h"
#include "weights/catalogue.h"
#include "weights/download.h"
#include "weights/hub.h"
#include "http_server.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <future>
#include <csignal>
#include <random>
#include <set>
#include <sstream>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::LoopbackServer;
using test::TempDir;

// Random bytes under a hub-style name: STEM-<first 8 hex digits of their SHA-256>.pth.
std::string write_blob(const fs::path& dir, const std::string& stem, size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(size, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
  const std::string tmp = (dir / "tmp.bin").string();
  test::write_file(tmp, bytes);
  const std::string name = stem + "-" + sha256_file(tmp).substr(0, 8) + ".pth";
  fs::rename(tmp, dir / name);
  return name;
}

DownloadOptions quick() {
  DownloadOptions o;
  o.stall_timeout_s = 2;
  o.retries = 2;
  o.backoff_s = 0.01;
  return o;
}

class Hub : public ::testing::Test {
 protected:
  TempDir served, cache;
  LoopbackServer server{served.path()};
};

TEST(Sha256, KnownAnswers) {
  TempDir dir;
  test::write_file(dir / "abc", "abc");
  EXPECT_EQ(sha256_file(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  test::write_file(dir / "empty", "");
  EXPECT_EQ(sha256_file(dir / "empty"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Catalogue, HashPrefixesAndNames) {
  EXPECT_EQ(hash_prefix_of("resnet50-11ad3fa6.pth"), "11ad3fa6");
  EXPECT_EQ(hash_prefix_of("vgg16_features-amdegroot-88682ab5.pth"), "88682ab5");
  EXPECT_EQ(hash_prefix_of("alexnet-owt-7be5be79.pth"), "7be5be79");
  EXPECT_EQ(hash_prefix_of("model.pth"), "");
  EXPECT_EQ(hash_prefix_of("model-final.pth"), "");
  EXPECT_EQ(find_weights("torchvision:resnet50").version, "IMAGENET1K_V2");  // torchvision's DEFAULT
  EXPECT_EQ(find_weights("torchvision:resnet50.DEFAULT").version, "IMAGENET1K_V2");
  EXPECT_EQ(find_weights("torchvision:resnet50.IMAGENET1K_V1").file_name(), "resnet50-0676ba61.pth");
  EXPECT_EQ(find_weights("torchvision:ResNet50_Weights.IMAGENET1K_V1").file_name(), "resnet50-0676ba61.pth");
  EXPECT_EQ(find_weights("torchvision:googlenet").transform_input, true);
  EXPECT_FALSE(find_weights("torchvision:vgg16.IMAGENET1K_FEATURES").has_classes());
  EXPECT_EQ(test::kind_of([] { find_weights("torchvision:resnet50.IMAGENET1K_V9"); }), ErrorKind::kUsage);
  EXPECT_EQ(test::kind_of([] { find_weights("torchvision:lenet5"); }), ErrorKind::kUsage);
  EXPECT_TRUE(is_catalogue_name("torchvision:resnet50"));
  EXPECT_FALSE(is_catalogue_name("nosuchsource:resnet50"));
  EXPECT_FALSE(is_catalogue_name("/tmp/resnet50.pth"));
  // Every entry loads into a zoo classifier of torchvision's parameter count.
  for (const auto& e : weights_catalogue()) {
    const ModelInfo& info = find_model(e.model);
    ASSERT_TRUE(info.is_classifier()) << e.name;
    EXPECT_EQ(info.parameters, e.num_params) << e.name;
    EXPECT_FALSE(e.hash_prefix().empty()) << e.name;
    EXPECT_GT(e.size_mb, 0.0) << e.name;
  }
}

// Every field torchvision 0.14 states, for every zoo model it publishes weights for.
TEST(Catalogue, MatchesInstalledTorchvision) {
  if (std::system("/usr/bin/python3 -c 'import torchvision' 2>/dev/null") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with torchvision is needed";
  }
  std::string models;
  std::set<std::string> seen;
  for (const auto& e : weights_catalogue()) {
    if (e.source() == "torchvision" && seen.insert(e.model).second) models += " " + e.model;
  }
  TempDir dir;
  const std::string cmd = "/usr/bin/python3 " + std::string(ZOO_SOURCE_DIR) +
                          "/scripts/fixtures/torchvision_weights.py" + models + " > " + dir / "tv.json";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto theirs = nlohmann::json::parse(test::read_file(dir / "tv.json"));
  const auto r = test::run_zoo("weights list --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ours = nlohmann::json::parse(r.out);
  ASSERT_EQ(ours.size(), theirs.size());
  // torchvision publishes weights for these models and no others of zoo's.
  std::string all;
  for (const auto& info : model_table()) all += " '" + info.name + "',";
  const std::string published_cmd =
      "/usr/bin/python3 -c \"import torchvision.models as m\nfrom torchvision.models import _api\n"
      "for n in [" + all + "]:\n  fn = getattr(m, n, None)\n  print(n, int(fn is not None and "
      "_api._get_enum_from_fn(fn) is not None))\" > " + dir / "published.txt" + " 2>/dev/null";
  ASSERT_EQ(std::system(published_cmd.c_str()), 0) << published_cmd;
  std::istringstream published(test::read_file(dir / "published.txt"));
  std::string model;
  int has = 0, rows = 0;
  while (published >> model >> has) {
    EXPECT_EQ(has == 1, seen.count(model) > 0) << model;
    ++rows;
  }
  EXPECT_EQ(rows, static_cast<int>(model_table().size()));
  for (size_t i = 0; i < theirs.size(); ++i) {
    SCOPED_TRACE(theirs[i]["name"].get<std::string>());
    for (const auto& [key, value] : theirs[i].items()) {
      if (value.is_number_float()) {
        ASSERT_TRUE(ours[i][key].is_number()) << key;
        EXPECT_NEAR(ours[i][key].get<double>(), value.get<double>(), 1e-9) << key;
      } else if (value.is_array()) {
        for (size_t k = 0; k < value.size(); ++k) EXPECT_NEAR(ours[i][key][k].get<double>(), value[k].get<double>(), 1e-12) << key;
      } else {
        EXPECT_EQ(ours[i][key], value) << key;
      }
    }
  }
}

TEST_F(Hub, FetchVerifiesThenHitsTheCache) {
  const std::string name = write_blob(served.path(), "blob", 300000, 1);
  const std::string dest = cache / name;
  EXPECT_EQ(fetch_verified(server.url() + "/" + name, dest, "", quick()), FetchResult::kDownloaded);
  EXPECT_EQ(test::read_file(dest), test::read_file(served / name));
  EXPECT_FALSE(fs::exists(dest + ".partial"));
  EXPECT_EQ(fetch_verified(server.url() + "/" + name, dest, "", quick()), FetchResult::kCached);
  EXPECT_EQ(server.count(name), 1u);  // the hit made no request
  // A full digest is checked too.
  EXPECT_EQ(test::kind_of([&] { fetch_verified(server.url() + "/" + name, dest, std::string(64, '0'), quick()); }),
            ErrorKind::kBadData);
}

TEST_F(Hub, ResumesAfterTheConnectionIsCut) {
  const std::string name = write_blob(served.path(), "cut", 2000000, 2);
  server.cut_next(name, 700000);
  const std::string dest = cache / name;
  EXPECT_EQ(fetch_verified(server.url() + "/" + name, dest, "", quick()), FetchResult::kDownloaded);
  EXPECT_EQ(test::read_file(dest), test::read_file(served / name));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].range_start, -1);
  EXPECT_EQ(requests[1].range_start, 700000);  // the second try asked only for the rest
}

TEST_F(Hub, ResumesAPartialFileLeftByAnEarlierRun) {
  const std::string name = write_blob(served.path(), "part", 500000, 3);
  const std::string dest = cache / name;
  test::write_file(dest + ".partial", test::read_file(served / name).substr(0, 123456));
  EXPECT_EQ(fetch_verified(server.url() + "/" + name, dest, "", quick()), FetchResult::kDownloaded);
  EXPECT_EQ(test::read_file(dest), test::read_file(served / name));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].range_start, 123456);
}

TEST_F(Hub, CorruptedFileIsDeletedAndReported) {
  const std::string name = write_blob(served.path(), "bad", 100000, 4);
  std::string bytes = test::read_file(served / name);
  bytes[5000] ^= 1;  // one flipped bit: the name's hash no longer holds
  test::write_file(served / name, bytes);
  const std::string dest = cache / name;
  EXPECT_EQ(test::kind_of([&] { fetch_verified(server.url() + "/" + name, dest, "", quick()); }), ErrorKind::kBadData);
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest + ".partial"));
}

TEST_F(Hub, NotFoundStalledAndNamesWithoutAHash) {
  EXPECT_EQ(test::kind_of([&] { fetch_verified(server.url() + "/none-0123abcd.pth", cache / "none-0123abcd.pth", "", quick()); }),
            ErrorKind::kMissingInput);
  EXPECT_EQ(server.requests().size(), 1u);  // a 404 is not retried
  const std::string name = write_blob(served.path(), "slow", 100000, 5);
  server.stall(name);
  DownloadOptions o = quick();
  o.stall_timeout_s = 1;
  o.retries = 1;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(test::kind_of([&] { fetch_verified(server.url() + "/" + name, cache / name, "", o); }), ErrorKind::kIO);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 6.0);  // two tries of ~1 s each, the backoff between them
  EXPECT_EQ(fs::file_size(cache / (name + ".partial")), 32u);  // kept: 16 bytes per try, resumed
  EXPECT_FALSE(fs::exists(cache / name));
  EXPECT_EQ(test::kind_of([&] { fetch_verified(server.url() + "/model.pth", cache / "model.pth", "", quick()); }),
            ErrorKind::kUsage);
}

// The CLI with a user catalogue ($ZOO_WEIGHTS_CATALOG) whose entry points at the origin, and
// the loopback server or a folder as $ZOO_WEIGHTS_MIRROR.
class HubCli : public Hub {
 protected:
  void SetUp() override {
    name_ = write_blob(served.path(), "blob", 1500000, 6);
    const nlohmann::json catalogue = nlohmann::json::array(
        {{{"name", "test:resnet18.V1"}, {"model", "resnet18"}, {"url", "https://example.invalid/models/" + name_}}});
    test::write_file(served / "catalogue.json", catalogue.dump());
  }
  std::string env(const std::string& mirror) const {
    return "ZOO_WEIGHTS_CATALOG=" + served / "catalogue.json" + " TORCH_HOME=" + cache.path().string() +
           " ZOO_WEIGHTS_MIRROR=" + mirror + " ZOO_DOWNLOAD_TIMEOUT=5";
  }
  std::string cached() const { return cache / ("hub/checkpoints/" + name_); }
  std::string name_;
};

TEST_F(HubCli, FetchListOfflineAndVerify) {
  // Offline and not cached: exit 66, naming the file.
  auto r = test::run_zoo("weights fetch test:resnet18", env(server.url()) + " ZOO_OFFLINE=1");
  EXPECT_EQ(r.exit_code, 66) << r.err;
  EXPECT_NE(r.err.find(name_), std::string::npos) << r.err;
  r = test::run_zoo("--offline weights fetch test:resnet18", env(server.url()));
  EXPECT_EQ(r.exit_code, 66) << r.err;
  r = test::run_zoo("weights fetch test:resnet18 --offline", env(server.url()));
  EXPECT_EQ(r.exit_code, 66) << r.err;
  EXPECT_EQ(server.requests().size(), 0u);
  // Fetched through the mirror.
  r = test::run_zoo("weights fetch test:resnet18", env(server.url()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("downloaded " + cached()), std::string::npos) << r.out;
  EXPECT_EQ(test::read_file(cached()), test::read_file(served / name_));
  // Cached: offline is fine, and list says so.
  r = test::run_zoo("weights fetch test:resnet18.V1", env(server.url()) + " ZOO_OFFLINE=1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cached"), std::string::npos);
  r = test::run_zoo("weights list resnet18 --json", env(server.url()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool listed = false;
  for (const auto& e : nlohmann::json::parse(r.out)) {
    if (e["name"] == "test:resnet18.V1") listed = e["cached"].get<bool>();
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(test::run_zoo("weights verify", env(server.url())).exit_code, 0);
  // Damaged on disk: verify says so (65); fetch replaces it.
  std::string bytes = test::read_file(cached());
  bytes[100] ^= 0x40;
  test::write_file(cached(), bytes);
  r = test::run_zoo("weights verify", env(server.url()));
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
  r = test::run_zoo("weights fetch test:resnet18", env(server.url()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::run_zoo("weights verify test:resnet18", env(server.url())).exit_code, 0);
  // Unknown names: usage errors.
  EXPECT_EQ(test::run_zoo("weights fetch test:resnet18.V7", env(server.url())).exit_code, 2);
  EXPECT_EQ(test::run_zoo("weights list nosuchmodel", env(server.url())).exit_code, 2);
}

TEST_F(HubCli, FileUrlMirrorAndHttpErrors) {
  auto r = test::run_zoo("weights fetch test:resnet18", env("file://" + served.path().string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(cached()), test::read_file(served / name_));
  EXPECT_EQ(server.requests().size(), 0u);
  // A mirror that lacks the file: 66 from file:// and from HTTP 404.
  fs::remove(cached());
  fs::rename(served / name_, served / "elsewhere.bin");
  r = test::run_zoo("weights fetch test:resnet18", env("file://" + served.path().string()));
  EXPECT_EQ(r.exit_code, 66) << r.err;
  r = test::run_zoo("weights fetch test:resnet18", env(server.url()));
  EXPECT_EQ(r.exit_code, 66) << r.err;
  EXPECT_NE(r.err.find("404"), std::string::npos) << r.err;
  EXPECT_EQ(test::run_zoo("weights fetch test:resnet18", env("ftp://somewhere")).exit_code, 2);
}

TEST_F(HubCli, ConcurrentFetchesDownloadOnce) {
  server.throttle(65536, std::chrono::milliseconds(30));  // ~1 s for the file: the fetches overlap
  auto fetch = [&] { return test::run_zoo("weights fetch test:resnet18", env(server.url())); };
  auto a = std::async(std::launch::async, fetch);
  auto b = std::async(std::launch::async, fetch);
  const auto ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.exit_code, 0) << ra.err;
  EXPECT_EQ(rb.exit_code, 0) << rb.err;
  EXPECT_EQ(server.count(name_), 1u);  // the second waited for the first, then found the file
  EXPECT_NE((ra.out + rb.out).find("cached"), std::string::npos);
  EXPECT_EQ(test::read_file(cached()), test::read_file(served / name_));
}

// Ctrl-C during a download: exit 130 at once, the partial file kept for the next fetch, which
// resumes it.
TEST_F(HubCli, InterruptKeepsThePartialFile) {
  server.stall(name_);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("ZOO_WEIGHTS_CATALOG", (served / "catalogue.json").c_str(), 1);
    ::setenv("TORCH_HOME", cache.path().c_str(), 1);
    ::setenv("ZOO_WEIGHTS_MIRROR", server.url().c_str(), 1);
    ::freopen("/dev/null", "w", stderr);
    ::execl(ZOO_BINARY, ZOO_BINARY, "weights", "fetch", "test:resnet18", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const std::string partial = cached() + ".partial";
  for (int i = 0; i < 200 && server.count(name_) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the 16 bytes arrive, then the stall
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(fs::file_size(partial), 16u);
  EXPECT_FALSE(fs::exists(cached()));
  // The next fetch resumes from byte 16.
  LoopbackServer healthy(served.path());
  const auto r = test::run_zoo("weights fetch test:resnet18", env(healthy.url()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(healthy.requests().size(), 1u);
  EXPECT_EQ(healthy.requests()[0].range_start, 16);
  EXPECT_EQ(test::read_file(cached()), test::read_file(served / name_));
}

}  // namespace
}  // namespace zoo
