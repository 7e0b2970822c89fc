// MAT-files (data/matfile.h) and the ImageNet devkit (data/imagenet_devkit.h). Every variable
// of files scipy wrote (plain and compressed) and of files written byte by byte in both byte
// orders equals what scipy.io.loadmat reads from them (scripts/fixtures/imagenet_archives.py;
// skipped when /usr/bin/python3 lacks scipy); the devkit's leaves and validation WNIDs equal
// torchvision's own parse of a miniature ImageNet. Malformed input, each file cut at every byte
// and a few thousand single-byte changes, gives a data_error or a valid result, never a crash
// (build this under -fsanitize=address,undefined to see it), and sizes a file claims allocate
// nothing. Torch-free: needs zoo's data/ sources, common/error.h, zlib and nlohmann/json.
#include "temp_dir.h"
#include "common/error.h"
#include "data/imagenet_devkit.h"
#include "data/matfile.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <random>

#include <stdlib.h>  // mkdtemp

#ifndef ZOO_SOURCE_DIR
#error "ZOO_SOURCE_DIR must name the repository root"
#endif

// The largest single operator-new request, so tests can show that a size a file claims is
// never allocated. Replaces the global operator new/delete pair of this test binary: both go
// to malloc/free as the default ones do.
namespace {
std::atomic<size_t> g_largest_allocation{0};
}  // namespace

void* operator new(std::size_t n) {
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// noinline: inlined, GCC would take free() after operator new for a mismatch.
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace zoo {
namespace {

using json = nlohmann::json;
using Bytes = std::vector<uint8_t>;

constexpr size_t kHeaderOffset = 128;  // where a MAT-file's data elements start

// ---- helpers ------------------------------------------------------------------------------

using test::TempDir;

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string read_text(const std::string& path) {
  const Bytes b = read_bytes(path);
  return std::string(b.begin(), b.end());
}

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// The message of the data_error `f` throws ("" and a test failure when it throws nothing or
// anything else).
std::string data_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadData) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a zoo::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

bool have_scipy() {
  static const bool ok =
      std::system("/usr/bin/python3 -c 'import scipy.io, numpy' >/dev/null 2>&1") == 0;
  return ok;
}

const char kScript[] = "/usr/bin/python3 " ZOO_SOURCE_DIR "/scripts/fixtures/imagenet_archives.py";

// scripts/fixtures/imagenet_archives.py --mat-fixtures, once per test binary.
const TempDir& mat_fixtures() {
  static TempDir dir;
  static const int rc = std::system((std::string(kScript) + " --mat-fixtures " + dir.path().string()).c_str());
  EXPECT_EQ(rc, 0) << "imagenet_archives.py --mat-fixtures failed";
  return dir;
}

// A MAT-file built element by element, in either byte order: the cases scipy cannot write.
class MatBuilder {
 public:
  enum : uint32_t { kInt8 = 1, kUInt8 = 2, kInt16 = 3, kUInt16 = 4, kInt32 = 5, kUInt32 = 6,
                    kDouble = 9, kMatrix = 14, kCompressed = 15, kUtf8 = 16 };

  explicit MatBuilder(bool big_endian, const std::string& text = "MATLAB 5.0 MAT-file, Platform: zoo test")
      : big_(big_endian) {
    out_ = text;
    out_.resize(116, ' ');
    out_ += std::string(8, ' ');
    out_ += u16(0x0100);
    out_ += big_endian ? "MI" : "IM";
  }

  std::string u16(uint16_t v) const { return uint(v, 2); }
  std::string u32(uint32_t v) const { return uint(v, 4); }
  std::string uint(uint64_t v, int n) const {
    std::string s(n, '\0');
    for (int i = 0; i < n; ++i) s[big_ ? n - 1 - i : i] = char((v >> (8 * i)) & 0xFF);
    return s;
  }
  std::string f64(double d) const {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    return uint(bits, 8);
  }

  std::string element(uint32_t type, const std::string& data, bool small_ok = true) const {
    if (small_ok && data.size() <= 4 && !data.empty()) {
      std::string d = data;
      d.resize(4, '\0');
      return u32((uint32_t(data.size()) << 16) | type) + d;
    }
    std::string d = data;
    d.resize((data.size() + 7) / 8 * 8, '\0');
    return u32(type) + u32(uint32_t(data.size())) + d;
  }
  std::string matrix(uint32_t cls, const std::vector<int32_t>& dims, const std::string& name,
                     const std::string& body, uint32_t flags = 0) const {
    std::string d;
    for (int32_t v : dims) d += u32(uint32_t(v));
    return element(kMatrix, element(kUInt32, u32(cls | flags) + u32(0), false) + element(kInt32, d, false) +
                                element(kInt8, name) + body,
                   false);
  }
  std::string doubles(const std::vector<int32_t>& dims, const std::string& name, const std::vector<double>& v) const {
    std::string d;
    for (double x : v) d += f64(x);
    return matrix(6, dims, name, element(kDouble, d));
  }
  // Values of class `cls` stored as miUINT8, as MATLAB stores small integers.
  std::string bytes(uint32_t cls, const std::vector<int32_t>& dims, const std::string& name,
                    const std::vector<uint8_t>& v) const {
    return matrix(cls, dims, name, element(kUInt8, std::string(v.begin(), v.end())));
  }
  std::string utf8(const std::vector<int32_t>& dims, const std::string& name, const std::string& text) const {
    return matrix(4, dims, name, element(kUtf8, text));
  }
  std::string utf16(const std::vector<int32_t>& dims, const std::string& name, const std::vector<uint16_t>& units) const {
    std::string d;
    for (uint16_t u : units) d += u16(u);
    return matrix(4, dims, name, element(kUInt16, d));
  }
  std::string structure(const std::vector<int32_t>& dims, const std::string& name,
                        const std::vector<std::string>& fields, const std::vector<std::string>& values) const {
    size_t width = 1;
    for (const auto& f : fields) width = std::max(width, f.size() + 1);
    std::string names;
    for (const auto& f : fields) names += f + std::string(width - f.size(), '\0');
    std::string body = element(kInt32, u32(uint32_t(width))) + element(kInt8, names);
    for (const auto& v : values) body += v;
    return matrix(2, dims, name, body);
  }
  std::string cell(const std::vector<int32_t>& dims, const std::string& name, const std::vector<std::string>& values) const {
    std::string body;
    for (const auto& v : values) body += v;
    return matrix(1, dims, name, body);
  }

  MatBuilder& add(const std::string& element_bytes, bool compress = false) {
    if (!compress) {
      out_ += element_bytes;
      return *this;
    }
    uLongf n = compressBound(element_bytes.size());
    std::string z(n, '\0');
    compress2(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(element_bytes.data()),
              element_bytes.size(), 6);
    z.resize(n);
    out_ += u32(kCompressed) + u32(uint32_t(n)) + z;
    return *this;
  }
  Bytes build() const { return to_bytes(out_); }

 private:
  bool big_;
  std::string out_;
};

// A small file of every kind of array, in either byte order, optionally compressed.
Bytes sample_file(bool big_endian, bool compress) {
  MatBuilder b(big_endian);
  b.add(b.doubles({2, 3}, "m", {1, 2, 3, 4, 5, 6.5}), compress);
  b.add(b.bytes(6, {1, 3}, "d8", {7, 0, 255}), compress);  // doubles stored as miUINT8
  b.add(b.utf8({1, 5}, "s", "h\xC3\xA9llo"), compress);
  b.add(b.utf16({2, 2}, "rows", {'a', 'c', 'b', 'd'}), compress);
  b.add(b.structure({1, 2}, "st", {"id", "kids"},
                    {b.doubles({1, 1}, "", {3}), b.element(14, "", false), b.bytes(6, {1, 1}, "", {4}),
                     b.doubles({1, 2}, "", {1, 2})}),
        compress);
  b.add(b.cell({1, 2}, "c", {b.utf8({1, 1}, "", "x"), b.doubles({0, 0}, "", {})}), compress);
  return b.build();
}

void expect_sample(const std::map<std::string, MatArray>& v) {
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v.at("m").dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(v.at("m").numbers, (std::vector<double>{1, 2, 3, 4, 5, 6.5}));
  EXPECT_EQ(v.at("d8").mat_class, MatClass::kDouble);
  EXPECT_EQ(v.at("d8").numbers, (std::vector<double>{7, 0, 255}));
  EXPECT_EQ(v.at("s").text(), "h\xC3\xA9llo");
  EXPECT_EQ(v.at("rows").rows, (std::vector<std::string>{"ab", "cd"}));
  const MatArray& st = v.at("st");
  EXPECT_EQ(st.describe(), "1x2 struct");
  EXPECT_EQ(st.field(0, "id").scalar(), 3);
  EXPECT_TRUE(st.field(0, "kids").empty());
  EXPECT_EQ(st.field(0, "kids").dims, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(st.field(1, "id").scalar(), 4);
  EXPECT_EQ(st.field(1, "kids").numbers, (std::vector<double>{1, 2}));
  EXPECT_EQ(v.at("c").cell(0).text(), "x");
  EXPECT_EQ(v.at("c").cell(1).describe(), "0x0 double");
}

// Every variable of `got` equal to scipy's view of it (see imagenet_archives.py).
void expect_scipy(const MatArray& got, const json& want, const std::string& where) {
  SCOPED_TRACE(where);
  const std::string kind = want.at("kind");
  const std::vector<int64_t> dims = want.at("dims").get<std::vector<int64_t>>();
  if (kind == "numeric" && dims == std::vector<int64_t>{1, 0} && got.dims == std::vector<int64_t>{0, 0}) {
    // A 0-byte miMATRIX: MATLAB's [] (0 x 0) here, np.array([[]]) (1 x 0) in scipy.
  } else {
    EXPECT_EQ(got.dims, dims);
  }
  if (kind == "numeric") {
    ASSERT_EQ(got.kind, MatArray::Kind::kNumeric);
    EXPECT_EQ(mat_class_name(got.mat_class), want.at("class").get<std::string>());
    const json& numbers = want.at("numbers");
    ASSERT_EQ(got.numbers.size(), numbers.size());
    for (size_t i = 0; i < numbers.size(); ++i) {
      const double x = got.numbers[i];
      if (numbers[i].is_string()) {
        const std::string s = numbers[i];
        const double want = s == "nan" ? NAN : s == "inf" ? HUGE_VAL : -HUGE_VAL;
        EXPECT_TRUE(std::isnan(want) ? std::isnan(x) : x == want) << i << ": " << x << " vs " << s;
      } else {
        EXPECT_EQ(x, numbers[i].get<double>()) << i;
        EXPECT_EQ(std::signbit(x), std::signbit(numbers[i].get<double>())) << i;
      }
    }
  } else if (kind == "char") {
    ASSERT_EQ(got.kind, MatArray::Kind::kChar);
    EXPECT_EQ(got.rows, want.at("rows").get<std::vector<std::string>>());
  } else if (kind == "struct") {
    ASSERT_EQ(got.kind, MatArray::Kind::kStruct);
    EXPECT_EQ(got.field_names, want.at("fields").get<std::vector<std::string>>());
    const json& elements = want.at("elements");
    const size_t nf = got.field_names.size();
    ASSERT_EQ(got.elements.size(), elements.size() * nf);
    for (size_t e = 0; e < elements.size(); ++e) {
      for (size_t f = 0; f < nf; ++f) {
        expect_scipy(got.elements[e * nf + f], elements[e][f],
                     where + "(" + std::to_string(e + 1) + ")." + got.field_names[f]);
      }
    }
  } else {
    ASSERT_EQ(kind, "cell");
    ASSERT_EQ(got.kind, MatArray::Kind::kCell);
    const json& elements = want.at("elements");
    ASSERT_EQ(got.elements.size(), elements.size());
    for (size_t e = 0; e < elements.size(); ++e) {
      expect_scipy(got.elements[e], elements[e], where + "{" + std::to_string(e + 1) + "}");
    }
  }
}

// Reading `bytes` returns or throws a one-line data_error; anything else fails the test.
void expect_safe(const Bytes& bytes, const std::string& what, const MatLimits& limits = {}) {
  try {
    read_mat(bytes, "fuzz.mat", limits);
  } catch (const Error& e) {
    const std::string m = e.what();
    if (e.kind() != ErrorKind::kBadData || m.rfind("MAT-file fuzz.mat", 0) != 0 ||
        m.find("; HINT: ") == std::string::npos || m.find('\n') != std::string::npos) {
      ADD_FAILURE() << what << ": unexpected error: " << m;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a zoo::Error: " << e.what();
  }
}

// Each prefix of `bytes`, every byte flipped three ways (short files) or `random_flips`
// random single-byte changes.
void fuzz(const Bytes& bytes, const std::string& name, int random_flips = 300) {
  SCOPED_TRACE(name);
  for (size_t n = 0; n < bytes.size(); ++n) {
    expect_safe(Bytes(bytes.begin(), bytes.begin() + n), name + " cut at " + std::to_string(n));
  }
  Bytes b = bytes;
  if (bytes.size() <= 2048) {
    for (size_t i = 0; i < b.size(); ++i) {
      for (uint8_t v : {uint8_t(b[i] ^ 0x01), uint8_t(b[i] ^ 0x80), uint8_t(0xFF)}) {
        const uint8_t keep = b[i];
        b[i] = v;
        expect_safe(b, name + " byte " + std::to_string(i) + " = " + std::to_string(v));
        b[i] = keep;
      }
    }
  }
  std::mt19937 rng(42);
  for (int k = 0; k < random_flips; ++k) {
    const size_t i = rng() % b.size();
    const uint8_t keep = b[i];
    b[i] = uint8_t(rng());
    expect_safe(b, name + " byte " + std::to_string(i) + " = " + std::to_string(b[i]));
    b[i] = keep;
  }
}

// ---- MAT-files against scipy -------------------------------------------------------------

TEST(MatFile, EqualsScipy) {
  if (!have_scipy()) GTEST_SKIP() << "/usr/bin/python3 lacks scipy";
  const TempDir& dir = mat_fixtures();
  const json expected = json::parse(read_text(dir / "expected.json"));
  ASSERT_EQ(expected.size(), 6u);
  for (const auto& [file, variables] : expected.items()) {
    SCOPED_TRACE(file);
    const auto got = read_mat(read_bytes(dir / file), file);
    ASSERT_EQ(got.size(), variables.size());
    for (const auto& [name, value] : variables.items()) {
      ASSERT_EQ(got.count(name), 1u) << name;
      expect_scipy(got.at(name), value, name);
    }
  }
  // Compression and byte order change nothing.
  EXPECT_EQ(expected.at("meta.mat"), expected.at("meta_z.mat"));
  EXPECT_EQ(expected.at("assorted.mat"), expected.at("assorted_z.mat"));
  EXPECT_EQ(expected.at("handmade_le.mat"), expected.at("handmade_be.mat"));
}

TEST(MatFile, ScipyFilesSurviveDamage) {
  if (!have_scipy()) GTEST_SKIP() << "/usr/bin/python3 lacks scipy";
  const TempDir& dir = mat_fixtures();
  for (const char* file : {"handmade_le.mat", "handmade_be.mat", "assorted.mat", "assorted_z.mat",
                           "meta_z.mat"}) {
    fuzz(read_bytes(dir / file), file);
  }
}

// MATLAB's own files, 5.3 to 7.4, Linux and big-endian Solaris, and odd writers' files: scipy's
// MAT-file test data, wherever Debian's python3-scipy installed it.
TEST(MatFile, ScipysTestDataReadsAsScipyReadsIt) {
  if (!have_scipy()) GTEST_SKIP() << "/usr/bin/python3 lacks scipy";
  const json testdata = json::parse(read_text(mat_fixtures() / "scipy_testdata.json"));
  const std::string folder = testdata.at("dir");
  if (testdata.at("files").empty()) GTEST_SKIP() << "no MAT-files in " << folder;
  int compared = 0;
  for (const auto& [file, variables] : testdata.at("files").items()) {
    SCOPED_TRACE(file);
    const Bytes bytes = read_bytes(folder + "/" + file);
    if (variables.is_null()) {  // scipy fails, or the file holds what zoo does not read
      expect_safe(bytes, file);
      continue;
    }
    const auto got = read_mat(bytes, file);
    ASSERT_EQ(got.size(), variables.size());
    for (const auto& [name, value] : variables.items()) {
      ASSERT_EQ(got.count(name), 1u) << name;
      expect_scipy(got.at(name), value, name);
    }
    ++compared;
  }
  EXPECT_GE(compared, 50);
  // MATLAB's files of what zoo does not read say what it is.
  const std::pair<const char*, const char*> refused[] = {
      {"testsparse_7.4_GLNX86.mat", "a sparse array"},      {"testcomplex_6.1_SOL2.mat", "a complex array"},
      {"testbool_8_WIN64.mat", "a logical array"},          {"testobject_7.4_GLNX86.mat", "an object"},
      {"testfunc_7.4_GLNX86.mat", "a function handle"},     {"testhdf5_7.4_GLNX86.mat", "a MAT-file v7.3"},
      {"testmatrix_4.2c_SOL2.mat", "a Level 4 MAT-file"},
  };
  for (const auto& [name, words] : refused) {
    const std::string file = name;  // a lambda cannot capture a structured binding in C++17
    if (!std::filesystem::exists(folder + "/" + file)) continue;
    const std::string m = data_error_of([&] { read_mat(read_bytes(folder + "/" + file), file); });
    EXPECT_NE(m.find(words), std::string::npos) << m;
  }
  for (const char* file : {"teststructnest_7.4_GLNX86.mat", "testcellnest_6.1_SOL2.mat", "testmulti_7.1_GLNX86.mat",
                           "teststringarray_6.5.1_GLNX86.mat"}) {
    fuzz(read_bytes(folder + "/" + file), file, 100);
  }
}

// ---- MAT-files built here ----------------------------------------------------------------

TEST(MatFile, BothByteOrdersPlainAndCompressed) {
  for (bool big : {false, true}) {
    for (bool z : {false, true}) {
      SCOPED_TRACE(std::string(big ? "big" : "little") + (z ? " compressed" : ""));
      expect_sample(read_mat(sample_file(big, z), "sample.mat"));
    }
  }
}

TEST(MatFile, CharactersAndEmptyArrays) {
  MatBuilder b(false);
  b.add(b.utf16({1, 3}, "clef", {'a', 0xD834, 0xDD1E}));        // U+1D11E as a surrogate pair
  b.add(b.utf16({1, 2}, "lone", {0xD834, 'b'}));                // an unpaired surrogate
  b.add(b.bytes(4, {1, 2}, "latin", {'o', 0xE9}));              // miUINT8 chars: Latin-1
  b.add(b.utf8({0, 0}, "none", ""));
  b.add(b.utf8({3, 0}, "blank", ""));                           // 3 rows of nothing
  b.add(b.doubles({0, 5}, "e05", {}));
  b.add(b.structure({0, 0}, "nost", {"a"}, {}));
  b.add(b.cell({0, 1}, "noc", {}));
  b.add(b.element(14, "", false));                              // a nameless empty matrix
  b.add(b.doubles({1, 1}, "dup", {1}));
  b.add(b.doubles({1, 1}, "dup", {2}));                         // the later one wins
  b.add(b.utf8({1, 4}, "bad8", "a\xC3\xE2\x82" "b"));             // ill-formed UTF-8
  b.add(b.matrix(4, {1, 3}, "blank3", b.element(16, "")));      // 0 bytes for 3 characters
  b.add(b.structure({1, 1}, "twice", {"a", "a", "a"},
                    {b.doubles({1, 1}, "", {1}), b.doubles({1, 1}, "", {2}), b.doubles({1, 1}, "", {3})}));
  const auto v = read_mat(b.build(), "chars.mat");
  EXPECT_EQ(v.at("clef").text(), "a\xF0\x9D\x84\x9E");
  EXPECT_EQ(v.at("lone").text(), "\xEF\xBF\xBD" "b");
  EXPECT_EQ(v.at("latin").text(), "o\xC3\xA9");
  EXPECT_EQ(v.at("none").text(), "");
  EXPECT_TRUE(v.at("none").rows.empty());
  EXPECT_EQ(v.at("blank").rows, (std::vector<std::string>{"", "", ""}));
  EXPECT_THROW(v.at("blank").text(), Error);
  EXPECT_EQ(v.at("e05").describe(), "0x5 double");
  EXPECT_TRUE(v.at("nost").elements.empty());
  EXPECT_EQ(v.at("nost").field_names, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(v.at("noc").elements.empty());
  EXPECT_EQ(v.at("dup").scalar(), 2);
  // As Python's decode(errors="replace"): one U+FFFD per maximal ill-formed subpart.
  EXPECT_EQ(v.at("bad8").text(), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
  EXPECT_EQ(v.at("blank3").text(), "   ");
  EXPECT_EQ(v.at("twice").field_names, (std::vector<std::string>{"a", "_1_a", "_2_a"}));
  EXPECT_EQ(v.at("twice").field(0, "_2_a").scalar(), 3);
  EXPECT_EQ(v.size(), 12u);  // the nameless one is skipped
}

TEST(MatFile, AccessorsThrowDataErrors) {
  const auto v = read_mat(sample_file(false, false), "sample.mat");
  const MatArray& st = v.at("st");
  EXPECT_EQ(st.field_index("kids"), 1);
  EXPECT_EQ(st.field_index("nope"), -1);
  EXPECT_NE(data_error_of([&] { st.field(0, "nope"); }).find("no field 'nope' (its fields: id, kids)"),
            std::string::npos);
  data_error_of([&] { st.field(2, "id"); });
  data_error_of([&] { v.at("m").field(0, "id"); });
  data_error_of([&] { v.at("m").scalar(); });
  data_error_of([&] { v.at("m").text(); });
  data_error_of([&] { v.at("c").cell(2); });
  data_error_of([&] { v.at("st").cell(0); });
}

TEST(MatFile, UnsupportedFormsAreNamed) {
  const auto message = [](const Bytes& bytes) { return data_error_of([&] { read_mat(bytes, "u.mat"); }); };
  // MAT-file v7.3: an HDF5 file behind a MATLAB header.
  {
    MatBuilder b(false, "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .");
    Bytes bytes = b.build();
    bytes[124] = 0x00, bytes[125] = 0x02;
    bytes.resize(512, 0);
    for (char c : std::string("\x89HDF\r\n\x1a\n")) bytes.push_back(uint8_t(c));
    const std::string m = message(bytes);
    EXPECT_NE(m.find("v7.3"), std::string::npos) << m;
    EXPECT_NE(m.find("save -v7"), std::string::npos) << m;
    EXPECT_NE(message(to_bytes("\x89HDF\r\n\x1a\n" + std::string(600, '\0'))).find("v7.3"), std::string::npos);
  }
  // Level 4 (no header) and short files.
  EXPECT_NE(message(Bytes(200, 0)).find("a Level 4 MAT-file"), std::string::npos);
  EXPECT_NE(message(Bytes(200, 'x')).find("not a Level 5 MAT-file"), std::string::npos);
  EXPECT_NE(message(Bytes(10, 'M')).find("shorter than the 128-byte header"), std::string::npos);
  {
    Bytes bytes = MatBuilder(false).build();
    bytes[124] = 0x01, bytes[125] = 0x02;
    EXPECT_NE(message(bytes).find("version 513, expected 256"), std::string::npos);
  }
  MatBuilder b(false);
  const std::string d = b.element(9, b.f64(1));
  const auto one = [&](const std::string& matrix) { return MatBuilder(b).add(matrix).build(); };
  const struct {
    std::string matrix, words;
  } cases[] = {
      {b.matrix(5, {2, 2}, "sp", d), "a sparse array"},
      {b.matrix(6, {1, 1}, "cx", d + d, 0x0800), "a complex array"},
      {b.matrix(9, {1, 1}, "lg", b.element(2, "\x01"), 0x0200), "a logical array"},
      {b.matrix(16, {1, 1}, "fh", ""), "a function handle"},
      {b.matrix(3, {1, 1}, "ob", ""), "an object"},
      {b.matrix(17, {1, 1}, "op", ""), "a MATLAB object"},
      {b.matrix(99, {1, 1}, "uk", ""), "unknown array class 99"},
  };
  for (const auto& c : cases) {
    const std::string m = message(one(c.matrix));
    EXPECT_NE(m.find(c.words), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
  // The message names where: variable, struct element and field, cell, and the offset.
  const std::string m = message(one(b.structure({1, 2}, "outer", {"f"}, {b.doubles({1, 1}, "", {1}),
                                                                     b.cell({1, 1}, "", {b.matrix(5, {1, 1}, "", d)})})));
  EXPECT_NE(m.find("MAT-file u.mat, variable 'outer'(2).f{1}, byte offset 312: a sparse array"), std::string::npos)
      << m;
  // Names are quoted printable and short.
  const std::string m2 = message(one(b.matrix(5, {1, 1}, "a\nb" + std::string(100, 'x'), d)));
  EXPECT_NE(m2.find("variable 'a?bxxx"), std::string::npos) << m2;
  EXPECT_NE(m2.find("xxx...', byte offset"), std::string::npos) << m2;
}

TEST(MatFile, MalformedInputIsADataError) {
  MatBuilder b(false);
  const std::string good = b.doubles({1, 2}, "x", {1, 2});
  const auto err = [&](const std::string& element_bytes, const char* words) {
    const std::string m = data_error_of([&] { read_mat(MatBuilder(b).add(element_bytes).build(), "bad.mat"); });
    EXPECT_NE(m.find(words), std::string::npos) << m;
    EXPECT_EQ(m.rfind("MAT-file bad.mat, ", 0), 0u) << m;
    EXPECT_NE(m.find("; HINT: "), std::string::npos) << m;
  };
  err(b.matrix(6, {1, 3}, "x", b.element(9, b.f64(1) + b.f64(2))), "holds 2 values, its dimensions say 3");
  err(b.matrix(6, {1, 1}, "x", b.element(9, "abc")), "are not whole 8-byte values");
  err(b.matrix(6, {1, -1}, "x", ""), "negative");
  err(b.matrix(6, {1}, "x", ""), "expected 2 or more miINT32");
  err(b.matrix(6, {1, 1}, "x", b.element(14, "")), "numeric data is stored as miMATRIX");
  err(b.matrix(6, {1, 1}, "x", ""), "numeric data is missing");
  err(b.matrix(4, {1, 2}, "x", b.element(16, "\xC3")), "char data holds 1 characters, its dimensions say 2");
  err(b.matrix(4, {1, 200}, "x", b.element(16, "")), "char data holds 0 characters, its dimensions say 200");
  err(b.matrix(4, {1, 2}, "x", b.element(9, b.f64(1))), "char data is stored as miDOUBLE");
  err(b.structure({1, 1}, "x", {"a"}, {b.element(9, b.f64(1))}), "a struct field is miDOUBLE");
  err(b.cell({1, 1}, "x", {b.element(15, "zz")}), "a cell is miCOMPRESSED");
  err(b.element(9, b.f64(1)), "a top-level element of miDOUBLE");
  err(good.substr(0, good.size() - 8), "claims");
  err(b.u32(14) + b.u32(0xFFFFFFF8), "claims 4294967288 bytes, but only 0 remain");
  err(b.u32(15) + b.u32(4) + "abcd", "compressed data is corrupt");
  {  // a zlib stream cut short
    const Bytes whole = MatBuilder(b).add(good, true).build();
    Bytes cut(whole.begin(), whole.end() - 6);
    const uint32_t n = uint32_t(cut.size() - 136);
    for (int i = 0; i < 4; ++i) cut[132 + i] = uint8_t(n >> (8 * i));
    const std::string m = data_error_of([&] { read_mat(cut, "bad.mat"); });
    EXPECT_NE(m.find("ends before its zlib stream does"), std::string::npos) << m;
    EXPECT_NE(m.find("MAT-file bad.mat, byte offset 128: "), std::string::npos) << m;
  }
  {  // inside compressed data the offset is the inflated data's, and the element is named
    const std::string m = data_error_of([&] {
      read_mat(MatBuilder(b).add(b.matrix(6, {1, 3}, "z", b.element(9, b.f64(1))), true).build(), "bad.mat");
    });
    EXPECT_NE(m.find("MAT-file bad.mat, variable 'z', byte offset 48 of the data inflated from the "
                     "compressed element at byte offset 128: numeric data holds 1 values"),
              std::string::npos)
        << m;
  }
}

TEST(MatFile, ClaimedSizesAllocateNothing) {
  MatBuilder b(false);
  const auto refuse = [&](const Bytes& bytes, const char* words) {
    g_largest_allocation = 0;
    const std::string m = data_error_of([&] { read_mat(bytes, "huge.mat"); });
    EXPECT_LT(g_largest_allocation.load(), size_t(1) << 20) << words;
    EXPECT_NE(m.find(words), std::string::npos) << m;
  };
  const auto file = [&](const std::string& element_bytes, bool z = false) { return MatBuilder(b).add(element_bytes, z).build(); };
  refuse(file(b.u32(14) + b.u32(0xFFFFFFF8) + std::string(64, '\0')), "claims 4294967288 bytes");
  refuse(file(b.u32(15) + b.u32(0xFFFFFFF0) + std::string(64, '\0')), "claims 4294967280 bytes");
  refuse(file(b.u32(14) + b.u32(0xFFFFFF00), true), "claims 4294967040 bytes");  // inside zlib data
  refuse(file(b.matrix(6, {1 << 26, 1 << 26}, "x", b.element(9, b.f64(1)))), "holds 1 values");
  refuse(file(b.matrix(6, {65536, 65536}, "x", b.element(9, b.f64(1)))), "holds 1 values");
  refuse(file(b.structure({1 << 30, 1}, "s", {"a"}, {b.doubles({1, 1}, "", {1})})), "cannot fit");
  refuse(file(b.cell({1 << 30, 1 << 20}, "c", {})), "cannot fit");
  refuse(file(b.utf8({0x7FFFFFFF, 0}, "t", "")), "empty rows");                // rows of nothing
  refuse(file(b.utf8({5500000, 0}, "t", "")), "empty rows");    // under the memory limit, still refused
  refuse(file(b.matrix(6, {1 << 30, 1 << 30, 1 << 30}, "x", "")), "more than 2^53");
  // A struct with no fields holds nothing however many elements it claims: no allocation.
  g_largest_allocation = 0;
  const auto v = read_mat(file(b.structure({1 << 20, 1 << 20}, "s", {}, {})), "huge.mat");
  EXPECT_EQ(v.at("s").count(), int64_t(1) << 40);
  EXPECT_LT(g_largest_allocation.load(), size_t(1) << 20);
}

TEST(MatFile, LimitsHold) {
  MatBuilder b(false);
  // A zlib bomb: 8 MiB of zeros (as one uint8 array) in a few KiB.
  std::string zeros(8 << 20, '\0');
  const Bytes bomb = MatBuilder(b).add(b.bytes(9, {1, 8 << 20}, "z", Bytes(zeros.begin(), zeros.end())), true).build();
  EXPECT_LT(bomb.size(), 64u << 10);
  MatLimits small;
  small.max_inflated_bytes = 1 << 20;
  g_largest_allocation = 0;
  EXPECT_NE(data_error_of([&] { read_mat(bomb, "bomb.mat", small); }).find("inflates to more than 1048576 bytes"),
            std::string::npos);
  EXPECT_LE(g_largest_allocation.load(), (size_t(1) << 20) + 1);
  small = MatLimits();
  small.max_decoded_bytes = 16 << 20;  // 8 Mi values need 64 MiB as doubles
  EXPECT_NE(data_error_of([&] { read_mat(bomb, "bomb.mat", small); }).find("bytes of memory"), std::string::npos);
  EXPECT_EQ(read_mat(bomb, "bomb.mat").at("z").count(), 8 << 20);
  // Nesting: a top-level cell is depth 1; 32 levels read, 33 do not.
  const auto nested = [&](int levels) {
    std::string m = b.doubles({1, 1}, "", {1});
    for (int i = 1; i < levels; ++i) m = b.cell({1, 1}, i + 1 == levels ? "deep" : "", {m});
    return MatBuilder(b).add(m).build();
  };
  EXPECT_EQ(read_mat(nested(32), "deep.mat").count("deep"), 1u);
  EXPECT_NE(data_error_of([&] { read_mat(nested(33), "deep.mat"); }).find("nested more than 32 deep"),
            std::string::npos);
  expect_safe(nested(1000), "1000 levels");
}

TEST(MatFile, SurvivesTruncationAndByteFlips) {
  for (bool big : {false, true}) {
    for (bool z : {false, true}) {
      fuzz(sample_file(big, z), std::string(big ? "big" : "little") + (z ? " compressed" : " plain"));
    }
  }
}

// ---- the ImageNet devkit -----------------------------------------------------------------

TEST(ImagenetDevkit, MatchesTorchvision) {
  if (!have_scipy()) GTEST_SKIP() << "/usr/bin/python3 lacks scipy";
  if (std::system("/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 lacks torchvision";
  }
  for (const char* compress : {"--compress", "--no-compress"}) {
    SCOPED_TRACE(compress);
    TempDir dir;
    ASSERT_EQ(std::system((std::string(kScript) + " " + dir.path().string() + " --classes 4 --val 11 " + compress).c_str()), 0);
    ASSERT_EQ(std::system(("tar -xzf " + dir / "archives/ILSVRC2012_devkit_t12.tar.gz" + " -C " + dir.path().string()).c_str()), 0);
    const std::string data = dir / "ILSVRC2012_devkit_t12/data/";
    const json expected = json::parse(read_text(dir / "expected.json"));

    const auto leaves = parse_imagenet_meta(read_bytes(data + "meta.mat"), "meta.mat");
    ASSERT_EQ(leaves.size(), expected.at("leaves").size());
    ASSERT_EQ(leaves.size(), 4u);
    for (size_t i = 0; i < leaves.size(); ++i) {
      EXPECT_EQ(leaves[i].id, expected["leaves"][i][0].get<int64_t>());
      EXPECT_EQ(leaves[i].wnid, expected["leaves"][i][1].get<std::string>());
      EXPECT_EQ(leaves[i].words, expected["leaves"][i][2].get<std::string>());
    }
    const std::string truth = data + "ILSVRC2012_validation_ground_truth.txt";
    const auto ids = parse_ground_truth(read_text(truth), truth);
    EXPECT_EQ(ground_truth_wnids(leaves, ids, truth), expected.at("val_wnids").get<std::vector<std::string>>());
    // torchvision's tree has a folder per leaf WNID.
    for (const auto& leaf : leaves) EXPECT_TRUE(std::filesystem::is_directory(dir / ("torchvision/train/" + leaf.wnid)));
  }
}

TEST(ImagenetDevkit, MetaSurvivesDamage) {
  if (!have_scipy()) GTEST_SKIP() << "/usr/bin/python3 lacks scipy";
  const Bytes meta = read_bytes(mat_fixtures() / "meta.mat");
  const auto leaves = parse_imagenet_meta(meta, "meta.mat");
  ASSERT_EQ(leaves.size(), 5u);
  EXPECT_EQ(leaves[0].id, 1);
  EXPECT_EQ(leaves[0].wnid, "n01440764");
  EXPECT_EQ(leaves[0].words, "tench, Tinca tinca");
  EXPECT_EQ(leaves[4].id, 5);
  std::mt19937 rng(7);
  Bytes b = meta;
  for (int k = 0; k < 2000; ++k) {
    const size_t i = kHeaderOffset + rng() % (b.size() - kHeaderOffset);
    const uint8_t keep = b[i];
    b[i] = uint8_t(rng());
    try {
      parse_imagenet_meta(b, "meta.mat");
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kBadData) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "byte " << i << ": not a zoo::Error: " << e.what();
    }
    b[i] = keep;
  }
}

TEST(ImagenetDevkit, MetaLayoutErrors) {
  MatBuilder b(false);
  const auto synset = [&](double id, const std::string& wnid, double children) {
    return std::vector<std::string>{b.doubles({1, 1}, "", {id}), b.utf8({1, int32_t(wnid.size())}, "", wnid),
                                    b.utf8({1, 4}, "", "word"), b.doubles({1, 1}, "", {children})};
  };
  const std::vector<std::string> fields = {"ILSVRC2012_ID", "WNID", "words", "num_children"};
  const auto meta = [&](const std::vector<std::vector<std::string>>& rows, const std::vector<std::string>& names) {
    std::vector<std::string> values;
    for (const auto& r : rows) values.insert(values.end(), r.begin(), r.end());
    return MatBuilder(b).add(b.structure({int32_t(rows.size()), 1}, "synsets", names, values)).build();
  };
  // Leaves in file order, non-leaves dropped.
  const auto leaves = parse_imagenet_meta(
      meta({synset(7, "n7", 2), synset(1, "n1", 0), synset(2, "n2", 0)}, fields), "meta.mat");
  ASSERT_EQ(leaves.size(), 2u);
  EXPECT_EQ(leaves[1].id, 2);
  EXPECT_EQ(leaves[1].wnid, "n2");
  EXPECT_EQ(leaves[1].words, "word");

  const auto message = [&](const Bytes& bytes) { return data_error_of([&] { parse_imagenet_meta(bytes, "meta.mat"); }); };
  EXPECT_NE(message(MatBuilder(b).add(b.doubles({1, 1}, "x", {1})).build()).find("no variable 'synsets' (it holds: x)"),
            std::string::npos);
  EXPECT_NE(message(MatBuilder(b).add(b.doubles({1, 1}, "synsets", {1})).build()).find("'synsets' is a 1x1 double"),
            std::string::npos);
  EXPECT_NE(message(meta({{b.doubles({1, 1}, "", {1}), b.utf8({1, 2}, "", "n1"), b.utf8({1, 1}, "", "w")}},
                         {"ILSVRC2012_ID", "WNID", "words"}))
                .find("no field 'num_children'"),
            std::string::npos);
  auto bad = synset(1, "n1", 0);
  bad[3] = b.doubles({1, 2}, "", {0, 0});
  EXPECT_NE(message(meta({synset(1, "n1", 0), bad}, fields)).find("synsets(2).num_children is a 1x2 double"),
            std::string::npos);
  bad = synset(1.5, "n1", 0);
  EXPECT_NE(message(meta({bad}, fields)).find("ILSVRC2012_ID is not an integer"), std::string::npos);
  bad = synset(1, "n1", 0);
  bad[1] = b.utf8({2, 1}, "", "ab");
  EXPECT_NE(message(meta({bad}, fields)).find("synsets(1).WNID is a 2x1 char, expected a string"), std::string::npos);
  EXPECT_NE(message(Bytes(300, 0)).find("MAT-file meta.mat"), std::string::npos);
}

TEST(ImagenetDevkit, GroundTruth) {
  EXPECT_EQ(parse_ground_truth("490\n361\n171", "gt"), (std::vector<int64_t>{490, 361, 171}));
  EXPECT_EQ(parse_ground_truth("490\r\n361\r\n", "gt"), (std::vector<int64_t>{490, 361}));
  EXPECT_EQ(parse_ground_truth(" 12\t\n", "gt"), (std::vector<int64_t>{12}));  // int() strips blanks
  EXPECT_TRUE(parse_ground_truth("", "gt").empty());
  const auto message = [](const std::string& text) { return data_error_of([&] { parse_ground_truth(text, "gt.txt"); }); };
  EXPECT_NE(message("1\n\n2\n").find("gt.txt line 2: the line is empty"), std::string::npos);
  EXPECT_NE(message("1\n2\n\n").find("line 3: the line is empty"), std::string::npos);
  EXPECT_NE(message("1\n2x\n").find("line 2: '2x' is not a positive integer"), std::string::npos);
  EXPECT_NE(message("0\n").find("line 1: '0' is not"), std::string::npos);
  EXPECT_NE(message("-3\n").find("line 1"), std::string::npos);
  EXPECT_NE(message("99999999999999999999\n").find("line 1"), std::string::npos);
  EXPECT_NE(message("5\n\x01\x02\n").find("line 2: '?" "?' is not"), std::string::npos);

  const std::vector<ImagenetSynset> leaves = {{1, "n1", "one"}, {2, "n2", "two"}, {3, "n3", "three"}};
  EXPECT_EQ(ground_truth_wnids(leaves, {3, 1, 1}, "gt"), (std::vector<std::string>{"n3", "n1", "n1"}));
  EXPECT_NE(data_error_of([&] { ground_truth_wnids(leaves, {1, 4}, "gt.txt"); })
                .find("gt.txt line 2 gives ILSVRC2012_ID 4, which is no leaf synset's (3 leaves)"),
            std::string::npos);
  // Two leaves with one id: the later wins, as in torchvision's dict.
  EXPECT_EQ(ground_truth_wnids({{1, "a", ""}, {1, "b", ""}}, {1}, "gt"), (std::vector<std::string>{"b"}));
}

}  // namespace
}  // namespace zoo
