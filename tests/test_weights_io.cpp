// Tests for weights/weights_io (.pth zip and legacy, .safetensors), the weights-only unpickler
// (weights/pickle) and atomic writes (common/atomic_file). Fixtures are made in a temporary
// directory: by LibTorch from C++, and by /usr/bin/python3 with torch through
// scripts/fixtures/weights_fixtures.py (those tests skip when that interpreter lacks torch).
#include "temp_dir.h"
#include "test_util.h"
#include "common/error.h"
#include "common/atomic_file.h"
#include "weights/pickle.h"
#include "weights/weights_io.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

#ifndef ZOO_SOURCE_DIR
#define ZOO_SOURCE_DIR "."
#endif

namespace zoo {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

const char* kPython = "/usr/bin/python3";

using test::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> dir_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Runs f, expects a zoo::Error of `kind`, returns its message (one line, with a hint).
std::string error_of(const std::function<void()>& f, ErrorKind kind) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("HINT"), std::string::npos) << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected zoo::Error, got " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected zoo::Error, nothing thrown";
  return "";
}

void expect_same(const StateDict& got, const StateDict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    EXPECT_EQ(got[i].first, want[i].first);
    const at::Tensor& a = got[i].second;
    const at::Tensor& b = want[i].second;
    ASSERT_EQ(a.scalar_type(), b.scalar_type());
    ASSERT_EQ(a.sizes(), b.sizes());
    EXPECT_TRUE(a.is_contiguous());
    EXPECT_TRUE(at::equal(a, b));
  }
}

// Tensors of every supported dtype, including inputs that are not contiguous.
StateDict sample_state_dict() {
  at::manual_seed(1);
  const at::Tensor base = at::arange(24, at::kFloat).reshape({4, 6});
  StateDict sd;
  sd.emplace_back("features.0.weight", at::randn({4, 3, 3, 3}));
  sd.emplace_back("features.0.bias", at::randn({4}));
  sd.emplace_back("bn.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  sd.emplace_back("transposed", base.t());
  sd.emplace_back("slice", base.slice(0, 1, 3).slice(1, 2, 5));
  sd.emplace_back("double", at::randn({3, 2}, at::kDouble));
  sd.emplace_back("half", at::randn({2, 3}).to(at::kHalf));
  sd.emplace_back("bf16", at::randn({5}).to(at::kBFloat16));
  sd.emplace_back("int32", at::arange(-3, 3, at::kInt));
  sd.emplace_back("int16", at::arange(-3, 3, at::kShort));
  sd.emplace_back("int8", at::arange(-3, 3, at::kChar));
  sd.emplace_back("uint8", at::arange(250, 256, at::kLong).to(at::kByte));
  sd.emplace_back("mask", at::arange(5, at::kLong).remainder(2).to(at::kBool));
  sd.emplace_back("scalar", at::scalar_tensor(3.5));
  sd.emplace_back("empty", at::zeros({0, 4}));
  sd.emplace_back("big_index", at::full({2}, int64_t{1} << 40, at::kLong));
  return sd;
}

StateDict contiguous_copy(const StateDict& sd) {
  StateDict out;
  for (const auto& kv : sd) out.emplace_back(kv.first, kv.second.contiguous());
  return out;
}

// A torch.save-style zip whose data.pkl and data records are given verbatim.
void write_zip(const std::string& path, const std::string& pkl,
               const std::vector<std::pair<std::string, std::string>>& records = {}) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (const auto& r : records) writer.writeRecord(r.first, r.second.data(), r.second.size());
  writer.writeEndOfFile();
}

pickle::PickledTensor float_entry(const std::string& name, const std::string& key, int64_t numel,
                                  std::vector<int64_t> size, std::vector<int64_t> stride) {
  pickle::PickledTensor t;
  t.name = name;
  t.dtype = at::kFloat;
  t.storage_key = key;
  t.numel = numel;
  t.size = std::move(size);
  t.stride = std::move(stride);
  return t;
}

// ---------------------------------------------------------------------------------------------

TEST(WeightsFormat, ByExtension) {
  EXPECT_EQ(weights_format_of("runs/a/checkpoints/best.pt"), WeightsFormat::kZooCheckpoint);
  EXPECT_EQ(weights_format_of("resnet50-0676ba61.pth"), WeightsFormat::kPth);
  EXPECT_EQ(weights_format_of("dir.v2/RESNET.PTH"), WeightsFormat::kPth);
  EXPECT_EQ(weights_format_of("pytorch_model.bin"), WeightsFormat::kPth);
  EXPECT_EQ(weights_format_of("model.safetensors"), WeightsFormat::kSafetensors);
  const std::string msg = error_of([] { weights_format_of("model.onnx"); }, ErrorKind::kUsage);
  EXPECT_NE(msg.find(".safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".pth"), std::string::npos) << msg;
  error_of([] { weights_format_of("dir.d/noext"); }, ErrorKind::kUsage);
}

TEST(Pth, RoundTripInCpp) {
  TempDir dir;
  const StateDict sd = sample_state_dict();
  write_pth(dir / "w.pth", sd);
  expect_same(read_pth(dir / "w.pth"), contiguous_copy(sd));
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"w.pth"});  // no temp left

  write_pth(dir / "empty.pth", {});
  EXPECT_TRUE(read_pth(dir / "empty.pth").empty());
}

TEST(Safetensors, RoundTripWithMetadata) {
  TempDir dir;
  const StateDict sd = sample_state_dict();
  write_safetensors(dir / "w.safetensors", sd, {{"format", "pt"}, {"model", "lenet5"}});
  std::map<std::string, std::string> meta;
  expect_same(read_safetensors(dir / "w.safetensors", &meta), contiguous_copy(sd));
  EXPECT_EQ(meta.at("format"), "pt");
  EXPECT_EQ(meta.at("model"), "lenet5");

  // The header is padded so that the data buffer starts 8-byte aligned.
  const std::string bytes = read_file(dir / "w.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes.substr(8, 16), "{\"__metadata__\":");
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"w.safetensors"});
}

TEST(Safetensors, ChecksumsZooWroteAreChecked) {
  TempDir dir;
  const StateDict sd = sample_state_dict();
  write_safetensors(dir / "w.safetensors", sd);
  std::map<std::string, std::string> meta;
  read_safetensors(dir / "w.safetensors", &meta);
  const auto sums = nlohmann::json::parse(meta.at(kSafetensorsChecksumKey));
  EXPECT_EQ(sums.at("algorithm"), "xxh3-64");
  EXPECT_EQ(sums.at("tensors").size(), sd.size());

  // A flipped byte in any tensor's data is named; the data buffer is the file's end.
  const std::string bytes = read_file(dir / "w.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  for (const auto& [name, t] : sd) {
    if (t.numel() == 0) continue;
    const uint64_t begin = header.at(name).at("data_offsets")[0];
    std::string copy = bytes;
    copy[8 + n + begin] = static_cast<char>(copy[8 + n + begin] ^ 4);
    write_file(dir / "bad.safetensors", copy);
    const std::string msg = error_of([&] { read_safetensors(dir / "bad.safetensors"); }, ErrorKind::kBadData);
    EXPECT_NE(msg.find("tensor '" + name + "' does not match its checksum"), std::string::npos) << msg;
  }
  // A file without them (as other tools write it) reads as before.
  nlohmann::ordered_json plain = nlohmann::ordered_json::parse(bytes.substr(8, n));
  plain.erase("__metadata__");
  std::string text = plain.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(text.size() >> (8 * i));
  write_file(dir / "plain.safetensors", file + text + bytes.substr(8 + n));
  std::map<std::string, std::string> none;
  expect_same(read_safetensors(dir / "plain.safetensors", &none), contiguous_copy(sd));
  EXPECT_TRUE(none.empty());
}

TEST(Pth, MissingFile) {
  TempDir dir;
  error_of([&] { read_pth(dir / "nope.pth"); }, ErrorKind::kMissingInput);
  error_of([&] { read_safetensors(dir / "nope.safetensors"); }, ErrorKind::kMissingInput);
  error_of([&] { read_pth(dir.path().string()); }, ErrorKind::kMissingInput);
}

TEST(Pth, RejectsCorruptFiles) {
  TempDir dir;
  write_file(dir / "empty.pth", "");
  error_of([&] { read_pth(dir / "empty.pth"); }, ErrorKind::kBadData);

  std::mt19937 rng(42);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  write_file(dir / "noise.pth", noise);
  EXPECT_NE(error_of([&] { read_pth(dir / "noise.pth"); }, ErrorKind::kBadData).find("noise.pth"),
            std::string::npos);
  write_file(dir / "pk.pth", "PK" + noise);
  error_of([&] { read_pth(dir / "pk.pth"); }, ErrorKind::kBadData);

  write_pth(dir / "good.pth", sample_state_dict());
  const std::string good = read_file(dir / "good.pth");
  for (size_t cut : {good.size() / 2, good.size() - 1, good.size() / 16, size_t{3}}) {
    SCOPED_TRACE(cut);
    write_file(dir / "cut.pth", good.substr(0, cut));
    error_of([&] { read_pth(dir / "cut.pth"); }, ErrorKind::kBadData);
  }

  // A zip with no data.pkl.
  {
    caffe2::serialize::PyTorchStreamWriter writer(dir / "nopkl.pth");
    writer.writeRecord("other", "x", 1);
    writer.writeEndOfFile();
  }
  error_of([&] { read_pth(dir / "nopkl.pth"); }, ErrorKind::kBadData);

  const std::string four_floats(16, '\0');
  // Storage record missing.
  write_zip(dir / "norecord.pth", pickle::pickle_tensor_dict({float_entry("w", "0", 4, {4}, {1})}));
  EXPECT_NE(error_of([&] { read_pth(dir / "norecord.pth"); }, ErrorKind::kBadData).find("data/0"),
            std::string::npos);
  // Record smaller than the storage it claims.
  write_zip(dir / "small.pth", pickle::pickle_tensor_dict({float_entry("w", "0", 100, {100}, {1})}),
            {{"data/0", four_floats}});
  error_of([&] { read_pth(dir / "small.pth"); }, ErrorKind::kBadData);
  // A view reaching past its storage.
  write_zip(dir / "view.pth",
            pickle::pickle_tensor_dict({float_entry("w", "0", 4, {3, 2}, {2, 1})}),
            {{"data/0", four_floats}});
  EXPECT_NE(error_of([&] { read_pth(dir / "view.pth"); }, ErrorKind::kBadData).find("elements"),
            std::string::npos);
  // Sizes and strides of different lengths.
  write_zip(dir / "rank.pth", pickle::pickle_tensor_dict({float_entry("w", "0", 4, {4}, {1, 1})}),
            {{"data/0", four_floats}});
  error_of([&] { read_pth(dir / "rank.pth"); }, ErrorKind::kBadData);
  // The top level is not a dict.
  write_zip(dir / "list.pth", "\x80\x02]q\x00."s);
  EXPECT_NE(error_of([&] { read_pth(dir / "list.pth"); }, ErrorKind::kBadData).find("list"),
            std::string::npos);
  // A dict holding something else than tensors and no state_dict entry.
  write_zip(dir / "mixed.pth",
            "\x80\x02}(X\x01\x00\x00\x00"
            "aK\x01u."s);
  error_of([&] { read_pth(dir / "mixed.pth"); }, ErrorKind::kBadData);
  // A big-endian file (torch >= 2.1 records the byte order).
  {
    const std::string pkl = pickle::pickle_tensor_dict({float_entry("w", "0", 4, {4}, {1})});
    write_zip(dir / "big.pth", pkl, {{"data/0", four_floats}, {"byteorder", "big"}});
    EXPECT_NE(error_of([&] { read_pth(dir / "big.pth"); }, ErrorKind::kBadData).find("big"),
              std::string::npos);
    write_zip(dir / "little.pth", pkl, {{"data/0", four_floats}, {"byteorder", "little"}});
    EXPECT_EQ(read_pth(dir / "little.pth").size(), 1u);
  }
  // Bad memo index, stack underflow, unknown opcode, no STOP, newer protocol.
  for (const std::string& pkl : {"\x80\x02h\x05."s, "\x80\x02s."s, "\x80\x02\xff."s, "\x80\x02}"s,
                                 "\x80\x09}."s, "\x80\x02(t(u."s,
                                 "\x80\x02X\xff\xff\xff\x7f"
                                 "abc."s}) {
    write_zip(dir / "op.pth", pkl);
    error_of([&] { read_pth(dir / "op.pth"); }, ErrorKind::kBadData);
  }
}

TEST(Pth, CompressedRecordsAndZipBombs) {
  TempDir dir;
  const std::string pkl = pickle::pickle_tensor_dict({float_entry("w", "0", 1024, {1024}, {1})});
  // A deflated record (torch.save never compresses, zip tools may) still reads.
  {
    const at::Tensor w = at::arange(1024, at::kFloat);
    caffe2::serialize::PyTorchStreamWriter writer(dir / "deflated.pth");
    writer.writeRecord("data.pkl", pkl.data(), pkl.size());
    writer.writeRecord("data/0", w.data_ptr(), w.nbytes(), /*compress=*/true);
    writer.writeEndOfFile();
    const StateDict sd = read_pth(dir / "deflated.pth");
    ASSERT_EQ(sd.size(), 1u);
    EXPECT_TRUE(at::equal(sd[0].second, w));
  }
  // 64 MiB of zeros deflated into a tiny file is refused before anything is allocated.
  {
    const std::string zeros(64u << 20, '\0');
    caffe2::serialize::PyTorchStreamWriter writer(dir / "bomb.pth");
    writer.writeRecord("data.pkl", pkl.data(), pkl.size());
    writer.writeRecord("data/0", zeros.data(), zeros.size(), /*compress=*/true);
    writer.writeEndOfFile();
  }
  ASSERT_LT(fs::file_size(dir / "bomb.pth"), 1u << 20);
  EXPECT_NE(error_of([&] { read_pth(dir / "bomb.pth"); }, ErrorKind::kBadData).find("claims"),
            std::string::npos);
}

TEST(Pth, TruncatedPickleNeverCrashes) {
  TempDir dir;
  const std::string pkl = pickle::pickle_tensor_dict(
      {float_entry("a", "0", 6, {2, 3}, {3, 1}), float_entry("b", "1", 6, {3, 2}, {1, 3})});
  const std::vector<std::pair<std::string, std::string>> records = {
      {"data/0", std::string(24, '\1')}, {"data/1", std::string(24, '\2')}};
  for (size_t n = 0; n < pkl.size(); ++n) {
    SCOPED_TRACE(n);
    write_zip(dir / "t.pth", pkl.substr(0, n), records);
    error_of([&] { read_pth(dir / "t.pth"); }, ErrorKind::kBadData);
  }
  write_zip(dir / "t.pth", pkl, records);
  const StateDict sd = read_pth(dir / "t.pth");
  ASSERT_EQ(sd.size(), 2u);
  EXPECT_EQ(sd[1].second.sizes(), at::IntArrayRef({3, 2}));
}

TEST(Pth, MutatedPickleNeverCrashes) {
  TempDir dir;
  const std::string pkl = pickle::pickle_tensor_dict(
      {float_entry("a", "0", 6, {2, 3}, {3, 1}), float_entry("b", "1", 6, {3, 2}, {1, 3})});
  const std::vector<std::pair<std::string, std::string>> records = {
      {"data/0", std::string(24, '\1')}, {"data/1", std::string(24, '\2')}};
  std::mt19937 rng(7);
  int refused = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string bad = pkl;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    write_zip(dir / "m.pth", bad, records);
    try {
      read_pth(dir / "m.pth");
    } catch (const Error& e) {
      ASSERT_EQ(static_cast<int>(e.kind()), static_cast<int>(ErrorKind::kBadData)) << e.what();
      ++refused;
    } catch (const std::exception& e) {
      FAIL() << "mutation " << i << " escaped as a non-zoo exception: " << e.what();
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(Pth, RefusesCodeInPickles) {
  TempDir dir;
  const std::string pwned = dir / "pwned";
  struct Case {
    std::string pkl;
    std::string global;
  };
  const std::string legit = pickle::pickle_tensor_dict({float_entry("w", "0", 1, {1}, {1})});
  const std::vector<Case> cases = {
      {"cos\nsystem\n(S'touch " + pwned + "'\ntR.", "os.system"},
      {"cbuiltins\neval\n(S'__import__(\"os\").system(\"touch " + pwned + "\")'\ntR.",
       "builtins.eval"},
      {"c__builtin__\nexec\n(S'open(\"" + pwned + "\", \"w\")'\ntR.", "__builtin__.exec"},
      {"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x05touch\x85R."s, "os.system"},
      // A legitimate tensor entry first, the payload second.
      {legit.substr(0, legit.size() - 2) +  // without the final SETITEMS, STOP
           "X\x01\x00\x00\x00pcposix\nsystem\nX\x05\x00\x00\x00touch\x85Ru."s,
       "posix.system"},
      {"\x80\x02" "ctorch\nload\n)R."s, "torch.load"},  // split: \x02c would be one escape
      // Names from the file are escaped: the message stays on one line.
      {"\x80\x04\x8c\x04os\nx\x8c\x06system\x93."s, "os\\x0ax.system"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.global);
    write_zip(dir / "evil.pth", c.pkl, {{"data/0", std::string(4, '\0')}});
    const std::string msg = error_of([&] { read_pth(dir / "evil.pth"); }, ErrorKind::kBadData);
    EXPECT_NE(msg.find("refusing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + c.global + "'"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(pwned));
  }
}

// A safetensors file from a header and a data buffer; `length` overrides the header length.
void write_safetensors_raw(const std::string& path, const std::string& header,
                           const std::string& buffer, int64_t length = -1) {
  const uint64_t n = length < 0 ? header.size() : static_cast<uint64_t>(length);
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((n >> (8 * i)) & 0xff);
  write_file(path, bytes + header + buffer);
}

TEST(Safetensors, ReadsHandWrittenFile) {
  TempDir dir;
  const std::string buffer = "\x00\x00\x80\x3f\x00\x00\x00\x40\x01\x00"s;
  write_safetensors_raw(dir / "h.safetensors",
                        R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},)"
                        R"("a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},)"
                        R"("e":{"dtype":"I64","shape":[0],"data_offsets":[10,10]}})",
                        buffer);
  const StateDict sd = read_safetensors(dir / "h.safetensors");
  ASSERT_EQ(sd.size(), 3u);
  EXPECT_EQ(sd[0].first, "a");  // buffer order
  EXPECT_TRUE(at::equal(sd[0].second, at::tensor({1.0f, 2.0f}).reshape({2, 1})));
  EXPECT_EQ(sd[1].first, "b");
  EXPECT_EQ(sd[1].second.scalar_type(), at::kBool);
  EXPECT_EQ(sd[2].second.numel(), 0);
}

TEST(Safetensors, RejectsCorruptFiles) {
  TempDir dir;
  write_safetensors(dir / "good.safetensors", sample_state_dict());
  const std::string good = read_file(dir / "good.safetensors");
  for (size_t cut : {good.size() / 2, good.size() - 1, size_t{12}, size_t{7}, size_t{0}}) {
    SCOPED_TRACE(cut);
    write_file(dir / "cut.safetensors", good.substr(0, cut));
    error_of([&] { read_safetensors(dir / "cut.safetensors"); }, ErrorKind::kBadData);
  }
  const std::string f32 = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string eight(8, '\0');
  const auto expect_bad = [&](const std::string& header, const std::string& buffer,
                              int64_t length = -1) {
    SCOPED_TRACE(header);
    write_safetensors_raw(dir / "bad.safetensors", header, buffer, length);
    return error_of([&] { read_safetensors(dir / "bad.safetensors"); }, ErrorKind::kBadData);
  };
  write_safetensors_raw(dir / "ok.safetensors", f32, eight);
  EXPECT_EQ(read_safetensors(dir / "ok.safetensors").size(), 1u);

  EXPECT_NE(expect_bad(f32, eight, 1 << 20).find("header length"), std::string::npos);
  expect_bad(f32, eight, int64_t{1} << 62);
  EXPECT_NE(expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", eight)
                .find("outside"),
            std::string::npos);
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight);
  expect_bad(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight);
  expect_bad(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight);
  expect_bad(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
             eight);
  expect_bad(R"({"a":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}})", eight);
  expect_bad(R"({"a":{"dtype":"F32","shape":[2]}})", eight);
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             eight);
  expect_bad(R"({"__metadata__":{"x":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
             eight);
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", eight);  // bad JSON
  expect_bad(R"([1,2,3])", eight);
  expect_bad(R"({"a\nb":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", eight);
  expect_bad(std::string("{\"a\":\0", 6), eight);
}

TEST(AtomicWrite, MissingDirectoryOrFileParent) {
  TempDir dir;
  const StateDict sd = sample_state_dict();
  error_of([&] { write_pth(dir / "nope/w.pth", sd); }, ErrorKind::kIO);
  error_of([&] { write_safetensors(dir / "nope/w.safetensors", sd); }, ErrorKind::kIO);
  write_file(dir / "file", "x");
  error_of([&] { write_pth(dir / "file/w.pth", sd); }, ErrorKind::kIO);
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"file"});
}

TEST(AtomicWrite, ReadOnlyDirectoryKeepsFile) {
  TempDir dir;
  write_pth(dir / "w.pth", sample_state_dict());
  const std::string before = read_file(dir / "w.pth");
  // Root ignores directory permissions: it gets the directory bound onto itself read-only.
  test::Mounts mounts;
  if (::geteuid() == 0) {
    if (!mounts.read_only(dir.path().string())) GTEST_SKIP() << "root, and cannot mount here";
  } else {
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  }
  error_of([&] { write_pth(dir / "w.pth", {}); }, ErrorKind::kIO);
  error_of([&] { write_safetensors(dir / "w.pth", {}); }, ErrorKind::kIO);
  if (::geteuid() != 0) fs::permissions(dir.path(), fs::perms::owner_all);
  EXPECT_EQ(read_file(dir / "w.pth"), before);
}

TEST(AtomicWrite, FailedRenameKeepsDestination) {
  TempDir dir;
  fs::create_directory(dir / "w.pth");  // a non-empty directory cannot be replaced by a file
  write_file(dir / "w.pth/keep", "keep");
  error_of([&] { write_pth(dir / "w.pth", sample_state_dict()); }, ErrorKind::kIO);
  error_of([&] { write_safetensors(dir / "w.pth", sample_state_dict()); }, ErrorKind::kIO);
  EXPECT_EQ(read_file(dir / "w.pth/keep"), "keep");
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"w.pth"});
}

// A write that fails half way (file size limit, as a full disk would) leaves the old file.
TEST(AtomicWrite, FailureMidWriteKeepsPreviousFile) {
  TempDir dir;
  const StateDict small = {{"w", at::ones({4})}};
  const StateDict big = {{"w", at::ones({1 << 18})}};  // 1 MiB
  write_pth(dir / "w.pth", small);
  write_safetensors(dir / "w.safetensors", small);
  const std::string pth_before = read_file(dir / "w.pth");
  const std::string st_before = read_file(dir / "w.safetensors");

  struct rlimit old_limit {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  const std::string pth_msg = error_of([&] { write_pth(dir / "w.pth", big); }, ErrorKind::kIO);
  const std::string st_msg =
      error_of([&] { write_safetensors(dir / "w.safetensors", big); }, ErrorKind::kIO);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_NE(pth_msg.find("w.pth"), std::string::npos) << pth_msg;
  EXPECT_NE(st_msg.find("w.safetensors"), std::string::npos) << st_msg;
  EXPECT_EQ(read_file(dir / "w.pth"), pth_before);
  EXPECT_EQ(read_file(dir / "w.safetensors"), st_before);
  EXPECT_EQ(dir_entries(dir.path()), (std::vector<std::string>{"w.pth", "w.safetensors"}));
  // And once space is back, the write replaces the file.
  write_pth(dir / "w.pth", big);
  expect_same(read_pth(dir / "w.pth"), big);
}

TEST(AtomicWrite, UncommittedFileLeavesNothing) {
  TempDir dir;
  {
    AtomicFile f(dir / "x.bin");
    f.write("abc", 3);
    EXPECT_TRUE(fs::exists(f.temp_path()));
  }
  EXPECT_TRUE(dir_entries(dir.path()).empty());
  {
    AtomicFile f(dir / "x.bin");
    f.write("abc", 3);
    f.commit();
  }
  EXPECT_EQ(read_file(dir / "x.bin"), "abc");
}

// ---------------------------------------------------------------------------------------------
// Against files written by PyTorch itself.

class PythonFixtures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string script =
        std::string(ZOO_SOURCE_DIR) + "/scripts/fixtures/weights_fixtures.py";
    const std::string probe = std::string(kPython) + " -c 'import torch' >/dev/null 2>&1";
    if (std::system(probe.c_str()) != 0) {
      skip_ = std::string(kPython) + " has no torch";
      return;
    }
    const std::string make = std::string(kPython) + " " + script + " make " + dir_->path().string();
    ASSERT_EQ(std::system(make.c_str()), 0) << make;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string at_dir(const std::string& name) { return (*dir_) / name; }

  // The tensors python wrote to expected.tsv / expected.raw.
  static StateDict expected() {
    static const std::map<std::string, at::ScalarType> kTypes = {
        {"float32", at::kFloat},  {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
        {"float64", at::kDouble}, {"int64", at::kLong},   {"int32", at::kInt},
        {"int16", at::kShort},    {"int8", at::kChar},    {"uint8", at::kByte},
        {"bool", at::kBool}};
    std::ifstream tsv(at_dir("expected.tsv"));
    const std::string raw = read_file(at_dir("expected.raw"));
    size_t offset = 0;
    StateDict sd;
    std::string line;
    while (std::getline(tsv, line)) {
      std::istringstream fields(line);
      std::string name, dtype, shape_text;
      std::getline(fields, name, '\t');
      std::getline(fields, dtype, '\t');
      std::getline(fields, shape_text);
      std::vector<int64_t> shape;
      std::istringstream dims(shape_text);
      for (std::string d; std::getline(dims, d, ',');) shape.push_back(std::stoll(d));
      at::Tensor t = at::empty(shape, at::TensorOptions().dtype(kTypes.at(dtype)));
      if (t.nbytes() > 0) std::memcpy(t.data_ptr(), raw.data() + offset, t.nbytes());
      offset += t.nbytes();
      sd.emplace_back(name, t);
    }
    EXPECT_EQ(offset, raw.size());
    return sd;
  }

  static TempDir* dir_;
  static std::string skip_;
};

TempDir* PythonFixtures::dir_ = nullptr;
std::string PythonFixtures::skip_;

TEST_F(PythonFixtures, ReadsTorchSave) {
  const StateDict want = expected();
  ASSERT_EQ(want.size(), 20u);
  const StateDict got = read_pth(at_dir("sd.pth"));
  expect_same(got, want);
  EXPECT_EQ(got[6].first, "1.num_batches_tracked");
  EXPECT_EQ(got[6].second.item<int64_t>(), 7);
}

TEST_F(PythonFixtures, ReadsLegacyFormat) {
  expect_same(read_pth(at_dir("legacy.pth")), expected());
}

TEST_F(PythonFixtures, UnwrapsCheckpoint) {
  expect_same(read_pth(at_dir("checkpoint.pth")), expected());
}

TEST_F(PythonFixtures, RefusesPickledObjects) {
  std::string msg = error_of([] { read_pth(at_dir("evil.pth")); }, ErrorKind::kBadData);
  EXPECT_NE(msg.find("posix.system"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(at_dir("pwned")));
  msg = error_of([] { read_pth(at_dir("model.pth")); }, ErrorKind::kBadData);
  EXPECT_NE(msg.find("torch.nn.modules.linear.Linear"), std::string::npos) << msg;
  msg = error_of([] { read_pth(at_dir("script.pth")); }, ErrorKind::kBadData);
  EXPECT_NE(msg.find("TorchScript"), std::string::npos) << msg;
}

TEST_F(PythonFixtures, TruncatedFilesAreBadData) {
  for (const char* name : {"sd.pth", "legacy.pth"}) {
    const std::string bytes = read_file(at_dir(name));
    for (size_t cut : {bytes.size() / 2, bytes.size() - 1, bytes.size() / 5}) {
      SCOPED_TRACE(std::string(name) + " cut at " + std::to_string(cut));
      const std::string path = at_dir(std::string("cut_") + name);
      write_file(path, bytes.substr(0, cut));
      error_of([&] { read_pth(path); }, ErrorKind::kBadData);
    }
  }
}

TEST_F(PythonFixtures, WritesPthThatTorchLoads) {
  const std::string out = at_dir("ours.pth");
  write_pth(out, read_pth(at_dir("sd.pth")));
  const std::string check = std::string(kPython) + " " + ZOO_SOURCE_DIR +
                            "/scripts/fixtures/weights_fixtures.py check " + out + " " +
                            dir_->path().string();
  EXPECT_EQ(std::system(check.c_str()), 0) << check;
}

TEST_F(PythonFixtures, PthToSafetensorsRoundTrip) {
  const std::string out = at_dir("sd.safetensors");
  write_safetensors(out, read_pth(at_dir("sd.pth")), {{"source", "sd.pth"}});
  expect_same(read_safetensors(out), expected());
}

}  // namespace
}  // namespace zoo
