// MAT-file Level 5 reading; see matfile.h. One recursive pass over the bytes with explicit
// offsets. A Region is the file itself or the inflated data of one miCOMPRESSED element;
// every offset is checked against the end of the element that encloses it before it is read,
// so a length can never reach past the input, and every loop either advances by at least one
// 8-byte tag or runs over a count already checked against the bytes left.
#include "data/matfile.h"

#include "common/error.h"
#include "common/text.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <unordered_set>

namespace zoo {

namespace {

// Data types (MAT-File Format, table 1-1).
enum : uint32_t {
  miINT8 = 1,
  miUINT8 = 2,
  miINT16 = 3,
  miUINT16 = 4,
  miINT32 = 5,
  miUINT32 = 6,
  miSINGLE = 7,
  miDOUBLE = 9,
  miINT64 = 12,
  miUINT64 = 13,
  miMATRIX = 14,
  miCOMPRESSED = 15,
  miUTF8 = 16,
  miUTF16 = 17,
  miUTF32 = 18,
};

// Array flags: class in the low byte, these bits above it.
constexpr uint32_t kComplexFlag = 0x0800;
constexpr uint32_t kLogicalFlag = 0x0200;

constexpr size_t kHeaderSize = 128;
constexpr int64_t kMaxCount = int64_t(1) << 53;  // elements in one array: exact in a double

const char kUnsupportedHint[] =
    "HINT: zoo reads numeric (real, full), char, struct and cell arrays; save the data as those";
const char kHint[] =
    "HINT: the file is damaged or not a MATLAB v5/v7 MAT-file; re-download it, or re-save it "
    "in MATLAB with `save -v7`";

std::string type_name(uint32_t type) {
  static const char* const names[] = {
      nullptr,    "miINT8",   "miUINT8",  "miINT16",  "miUINT16",     "miINT32", "miUINT32",
      "miSINGLE", nullptr,    "miDOUBLE", nullptr,    nullptr,        "miINT64", "miUINT64",
      "miMATRIX", "miCOMPRESSED", "miUTF8", "miUTF16", "miUTF32"};
  if (type < sizeof(names) / sizeof(names[0]) && names[type]) {
    return std::string(names[type]) + " (" + std::to_string(type) + ")";
  }
  return "unknown type " + std::to_string(type);
}

// Bytes per value of a numeric storage type; 0 for any other type.
size_t storage_size(uint32_t type) {
  switch (type) {
    case miINT8: case miUINT8: return 1;
    case miINT16: case miUINT16: return 2;
    case miINT32: case miUINT32: case miSINGLE: return 4;
    case miDOUBLE: case miINT64: case miUINT64: return 8;
    default: return 0;
  }
}

// An unsigned integer of `n` bytes at p in the given byte order.
uint64_t load(const uint8_t* p, size_t n, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    v |= uint64_t(p[big_endian ? i : n - 1 - i]) << (8 * (n - 1 - i));
  }
  return v;
}

// A value of storage type `type` (storage_size(type) bytes at p) as a double.
double load_number(const uint8_t* p, uint32_t type, bool big_endian) {
  const uint64_t bits = load(p, storage_size(type), big_endian);
  switch (type) {
    case miINT8: return double(int8_t(uint8_t(bits)));
    case miUINT8: return double(uint8_t(bits));
    case miINT16: return double(int16_t(uint16_t(bits)));
    case miUINT16: return double(uint16_t(bits));
    case miINT32: return double(int32_t(uint32_t(bits)));
    case miUINT32: return double(uint32_t(bits));
    case miINT64: return double(int64_t(bits));
    case miUINT64: return double(bits);
    case miSINGLE: {
      const uint32_t b = uint32_t(bits);
      float f;
      std::memcpy(&f, &b, 4);
      return double(f);
    }
    default: {  // miDOUBLE
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// UTF-8 to code points. An ill-formed sequence becomes one U+FFFD per maximal subpart (the
// Unicode practice, which Python's decode(errors="replace"), and so scipy, follows).
void decode_utf8(const uint8_t* p, size_t n, std::vector<uint32_t>& out) {
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte: no overlongs, surrogates, > U+10FFFF
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    size_t k = 1;
    for (; k < len && i + k < n; ++k) {
      const uint8_t c = p[i + k];
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) break;
      cp = (cp << 6) | (c & 0x3F);
    }
    out.push_back(k == len ? cp : 0xFFFD);
    i += k;
  }
}

// A name from the file, fit to quote in a one-line message: control characters become '?',
// more than 64 bytes are cut.
std::string printable(const std::string& s) {
  std::string out = s.substr(0, 64);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return s.size() > 64 ? out + "..." : out;
}

// The bytes or the view they are read from: the file, or one compressed element inflated.
struct Region {
  const uint8_t* data;
  size_t size;
  bool big_endian;
  int64_t compressed_at;  // file offset of the miCOMPRESSED element inflated, or -1
};

// A data element's tag, decoded and checked to fit its enclosing element.
struct Element {
  size_t at;         // offset of the tag
  uint32_t type;
  size_t data;       // offset of the data
  size_t size;       // bytes of data
  size_t end;        // data + size
  size_t next;       // offset of the next element: end padded to 8 bytes (clamped to the enclosure)
  bool small;        // the small format: tag and data in 8 bytes
};

class Parser {
 public:
  Parser(const std::string& source, const MatLimits& limits) : source_(source), limits_(limits) {}

  std::map<std::string, MatArray> parse(const std::vector<uint8_t>& bytes) {
    Region file{bytes.data(), bytes.size(), false, -1};
    check_header(file);
    std::map<std::string, MatArray> vars;
    size_t pos = kHeaderSize;
    while (pos < file.size) {
      const Element e = element(file, pos, file.size);
      std::string name;
      MatArray var;
      charge(file, pos, sizeof(MatArray));
      if (e.type == miCOMPRESSED) {
        const std::vector<uint8_t> inflated = inflate(file, e);
        const Region z{inflated.data(), inflated.size(), file.big_endian, int64_t(e.at)};
        const Element inner = element(z, 0, z.size);
        if (inner.type != miMATRIX) {
          fail(z, 0, "a compressed element holds " + type_name(inner.type) + ", expected miMATRIX (14)");
        }
        var = matrix(z, inner, 1, &name);
      } else if (e.type == miMATRIX) {
        var = matrix(file, e, 1, &name);
      } else {
        fail(file, pos, "a top-level element of " + type_name(e.type) +
                            ", expected miMATRIX (14) or miCOMPRESSED (15)");
      }
      // scipy, too, steps by the byte count alone at the top level (no padding).
      pos = e.small ? e.next : e.end;
      if (!name.empty()) vars[name] = std::move(var);
    }
    return vars;
  }

 private:
  [[noreturn]] void fail(const Region& r, size_t at, const std::string& what,
                         const std::string& hint = kHint) const {
    std::string msg = "MAT-file " + source_;
    const std::string where = path();
    if (!where.empty()) msg += ", variable " + where;
    msg += ", byte offset " + std::to_string(at);
    if (r.compressed_at >= 0) {
      msg += " of the data inflated from the compressed element at byte offset " +
             std::to_string(r.compressed_at);
    }
    throw data_error(msg + ": " + what + "; " + hint);
  }

  uint32_t u32(const Region& r, size_t at) const { return uint32_t(load(r.data + at, 4, r.big_endian)); }

  void check_header(Region& file) {
    const uint8_t* b = file.data;
    const auto starts = [&](const char* s) {
      const size_t n = std::strlen(s);
      return file.size >= n && std::memcmp(b, s, n) == 0;
    };
    const char v73_hint[] =
        "HINT: zoo reads MAT-files up to v7; in MATLAB, load it and re-save it with `save -v7`";
    if (starts("MATLAB 7.3") || starts("\x89HDF\r\n\x1a\n")) {
      fail(file, 0, "a MAT-file v7.3 (HDF5), which zoo does not read", v73_hint);
    }
    if (file.size >= 4 && (b[0] == 0 || b[1] == 0 || b[2] == 0 || b[3] == 0)) {
      // Level 5 starts with header text; a Level 4 file with its MOPT type code, which holds zeros.
      fail(file, 0, "a Level 4 MAT-file (MATLAB 4), which zoo does not read",
           "HINT: in MATLAB, load it and re-save it with `save -v7`");
    }
    if (file.size < kHeaderSize) {
      fail(file, 0, "the file is " + std::to_string(file.size) +
                        " bytes, shorter than the 128-byte header of a MAT-file");
    }
    if (b[126] == 'I' && b[127] == 'M') {
      file.big_endian = false;
    } else if (b[126] == 'M' && b[127] == 'I') {
      file.big_endian = true;
    } else {
      fail(file, 126, "no endian indicator (\"IM\" or \"MI\"): not a Level 5 MAT-file "
                      "(Level 4 files are not read)");
    }
    const uint32_t version = uint32_t(load(b + 124, 2, file.big_endian));
    if (version == 0x0200) fail(file, 124, "a MAT-file v7.3 (HDF5), which zoo does not read", v73_hint);
    if (version != 0x0100) {
      fail(file, 124, "version " + std::to_string(version) + ", expected 256 (0x0100, Level 5)");
    }
  }

  // The element whose tag is at `at`, inside an enclosure ending at `end`.
  Element element(const Region& r, size_t at, size_t end) const {
    if (end - at < 8) {
      fail(r, at, "a data element tag is cut short (" + std::to_string(end - at) +
                      " bytes left, a tag takes 8)");
    }
    Element e;
    e.at = at;
    const uint32_t first = u32(r, at);
    if ((first >> 16) != 0) {  // small data element: size, type and up to 4 bytes in 8
      e.type = first & 0xFFFF;
      e.size = first >> 16;
      if (e.size > 4) {
        fail(r, at, "a small data element claims " + std::to_string(e.size) + " bytes (at most 4 fit)");
      }
      e.data = at + 4;
      e.end = e.data + e.size;
      e.next = at + 8;
      e.small = true;
      return e;
    }
    e.type = first;
    e.size = u32(r, at + 4);
    e.data = at + 8;
    if (e.size > end - e.data) {
      fail(r, at, "a data element of " + type_name(e.type) + " claims " + std::to_string(e.size) +
                      " bytes, but only " + std::to_string(end - e.data) + " remain");
    }
    e.end = e.data + e.size;
    e.next = std::min(end, e.data + ((e.size + 7) & ~size_t(7)));
    e.small = false;
    return e;
  }

  // Counts `bytes` of decoded output against MatLimits::max_decoded_bytes.
  void charge(const Region& r, size_t at, uint64_t bytes) {
    if (bytes > limits_.max_decoded_bytes || decoded_ + bytes > limits_.max_decoded_bytes) {
      fail(r, at, "the arrays would take more than " + std::to_string(limits_.max_decoded_bytes) +
                      " bytes of memory (zoo's limit)",
           "HINT: the file is damaged, or too large for zoo to read");
    }
    decoded_ += bytes;
  }

  // The zlib data of an miCOMPRESSED element, inflated into a buffer that grows as output
  // arrives (never sized from anything the file claims), up to MatLimits::max_inflated_bytes.
  std::vector<uint8_t> inflate(const Region& file, const Element& e) {
    z_stream zs;
    std::memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK) throw internal_error("zlib inflateInit failed (out of memory?)");
    struct End {
      z_stream* zs;
      ~End() { inflateEnd(zs); }
    } end_guard{&zs};
    zs.next_in = const_cast<Bytef*>(file.data + e.data);
    zs.avail_in = static_cast<uInt>(e.size);  // < 2^32: it came from a 32-bit field
    const uint64_t cap = std::min(limits_.max_inflated_bytes - inflated_, uint64_t(1) << 62);
    std::vector<uint8_t> out;
    size_t produced = 0;
    for (;;) {
      if (produced == out.size()) {
        // Grow, allowing one byte past the cap to tell "exactly cap" from "more".
        const uint64_t grown = std::min<uint64_t>(std::max<uint64_t>(out.size() * 2, 1 << 16), cap + 1);
        if (grown <= out.size()) break;
        out.reserve(static_cast<size_t>(grown));  // exactly this much: resize alone may double
        out.resize(static_cast<size_t>(grown));
      }
      zs.next_out = out.data() + produced;
      zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT_MAX));
      const uInt before_out = zs.avail_out;
      const int ret = ::inflate(&zs, Z_NO_FLUSH);
      produced += before_out - zs.avail_out;
      if (ret == Z_STREAM_END) break;
      if (ret == Z_OK) continue;  // zlib: "some progress has been made"
      if (ret == Z_BUF_ERROR && zs.avail_in == 0) {
        fail(file, e.at, "compressed data ends before its zlib stream does");
      }
      fail(file, e.at, std::string("compressed data is corrupt (zlib: ") + (zs.msg ? zs.msg : "error") + ")");
    }
    if (produced > cap) {
      fail(file, e.at, "compressed data inflates to more than " + std::to_string(limits_.max_inflated_bytes) +
                           " bytes in all (zoo's limit)",
           "HINT: the file is damaged, or too large for zoo to read");
    }
    inflated_ += produced;
    out.resize(produced);
    out.shrink_to_fit();
    return out;
  }

  // One miMATRIX element `e`; `name` (top level only) gets the array's name.
  MatArray matrix(const Region& r, const Element& e, int depth, std::string* name) {
    if (depth > limits_.max_depth) {
      fail(r, e.at, "arrays are nested more than " + std::to_string(limits_.max_depth) + " deep");
    }
    MatArray a;
    if (e.size == 0) return a;  // an empty miMATRIX: a 0 x 0 double
    const size_t end = e.end;

    const Element flags_el = element(r, e.data, end);
    if (flags_el.type != miUINT32 || flags_el.size != 8) {
      fail(r, flags_el.at, "array flags are " + std::to_string(flags_el.size) + " bytes of " +
                               type_name(flags_el.type) + ", expected 8 bytes of miUINT32 (6)");
    }
    const uint32_t flags = u32(r, flags_el.data);
    const uint32_t cls = flags & 0xFF;
    const bool known = cls == 1 || cls == 2 || cls == 4 || (cls >= 6 && cls <= 15);
    if (cls == 16) fail(r, flags_el.at, "a function handle, which zoo does not read", kUnsupportedHint);
    if (cls == 17) fail(r, flags_el.at, "a MATLAB object (opaque class), which zoo does not read", kUnsupportedHint);
    if (!known && cls != 3 && cls != 5) fail(r, flags_el.at, "unknown array class " + std::to_string(cls));

    const Element dims_el = element(r, flags_el.next, end);
    // miUINT32 is not the format's, but some writers use it and scipy reads it.
    if ((dims_el.type != miINT32 && dims_el.type != miUINT32) || dims_el.size % 4 != 0 || dims_el.size < 8) {
      fail(r, dims_el.at, "dimensions are " + std::to_string(dims_el.size) + " bytes of " +
                              type_name(dims_el.type) + ", expected 2 or more miINT32 (5)");
    }
    const size_t ndims = dims_el.size / 4;
    charge(r, dims_el.at, ndims * sizeof(int64_t));
    a.dims.assign(ndims, 0);
    int64_t count = 1;
    for (size_t i = 0; i < ndims; ++i) {
      const uint32_t raw = u32(r, dims_el.data + 4 * i);
      const int64_t d = dims_el.type == miUINT32 ? int64_t(raw) : int64_t(int32_t(raw));
      if (d < 0) fail(r, dims_el.at, "dimension " + std::to_string(i + 1) + " is negative (" + std::to_string(d) + ")");
      if (d != 0 && count > kMaxCount / d) fail(r, dims_el.at, "dimensions multiply to more than 2^53 elements");
      a.dims[i] = d;
      count *= d;
    }

    const Element name_el = element(r, dims_el.next, end);
    if (name_el.type != miINT8 && name_el.type != miUINT8 && name_el.type != miUTF8) {
      fail(r, name_el.at, "array name is " + type_name(name_el.type) + ", expected miINT8 (1)");
    }
    std::string own_name(reinterpret_cast<const char*>(r.data + name_el.data), name_el.size);
    own_name.resize(std::strlen(own_name.c_str()));  // up to a NUL, if any
    charge(r, name_el.at, own_name.size());
    if (name) *name = own_name;
    PathStep step(this, depth == 1 ? Step{'v', &own_name, 0, false} : Step{'-', nullptr, 0, false});

    if (cls == 3) fail(r, e.at, "an object (class 3), which zoo does not read", kUnsupportedHint);
    if (cls == 5) fail(r, e.at, "a sparse array, which zoo does not read", "HINT: save full(x) instead");
    if (flags & kComplexFlag) {
      fail(r, e.at, "a complex array, which zoo does not read", "HINT: save real(x) and imag(x) instead");
    }
    if (flags & kLogicalFlag) fail(r, e.at, "a logical array, which zoo does not read", "HINT: save double(x) instead");

    a.mat_class = static_cast<MatClass>(cls);
    const size_t pos = name_el.next;
    switch (a.mat_class) {
      case MatClass::kCell: cells(r, pos, end, count, depth, a); break;
      case MatClass::kStruct: structure(r, pos, end, count, depth, a); break;
      case MatClass::kChar: chars(r, pos, end, count, a); break;
      default: numbers(r, pos, end, count, a); break;
    }
    return a;
  }

  void numbers(const Region& r, size_t pos, size_t end, int64_t count, MatArray& a) {
    a.kind = MatArray::Kind::kNumeric;
    if (pos == end) {
      if (count == 0) return;
      fail(r, pos, "numeric data is missing (dimensions say " + std::to_string(count) + " values)");
    }
    const Element v = element(r, pos, end);
    const size_t width = storage_size(v.type);
    if (width == 0) {
      fail(r, v.at, "numeric data is stored as " + type_name(v.type) + ", expected an integer or floating type");
    }
    if (v.size % width != 0) {
      fail(r, v.at, std::to_string(v.size) + " bytes of " + type_name(v.type) + " are not whole " +
                        std::to_string(width) + "-byte values");
    }
    const size_t n = v.size / width;
    if (int64_t(n) != count) {
      fail(r, v.at, "numeric data holds " + std::to_string(n) + " values, its dimensions say " + std::to_string(count));
    }
    charge(r, v.at, uint64_t(n) * sizeof(double));
    a.numbers.resize(n);
    for (size_t i = 0; i < n; ++i) a.numbers[i] = load_number(r.data + v.data + i * width, v.type, r.big_endian);
  }

  void chars(const Region& r, size_t pos, size_t end, int64_t count, MatArray& a) {
    a.kind = MatArray::Kind::kChar;
    const int64_t nrows = a.dims[0];
    const int64_t ncols = nrows == 0 ? 0 : count / nrows;
    // An N x 0 array is N empty strings: never more of them than the input has bytes, so that a
    // dimension alone allocates nothing (a 2 KB file claiming 5.5M rows asked for 176 MB).
    if (count == 0 && uint64_t(nrows) > r.size) {
      fail(r, pos, "a char array of " + std::to_string(nrows) + " empty rows is larger than the " +
                       std::to_string(r.size) + " bytes it is read from");
    }
    charge(r, pos, uint64_t(nrows) * sizeof(std::string) + uint64_t(count));
    std::vector<uint32_t> units;  // code points, or UTF-16 code units when utf16
    bool utf16 = false;
    if (pos < end) {
      const Element c = element(r, pos, end);
      const uint8_t* p = r.data + c.data;
      switch (c.type) {
        case miINT8:
        case miUINT8:  // one byte a character: Latin-1 (ASCII in practice)
          units.assign(p, p + c.size);
          break;
        case miUTF8:
          decode_utf8(p, c.size, units);
          break;
        case miUINT16:  // MATLAB's own char: UTF-16 code units
        case miUTF16:
          if (c.size % 2) fail(r, c.at, "UTF-16 char data has an odd byte count");
          utf16 = true;
          for (size_t i = 0; i < c.size; i += 2) units.push_back(uint32_t(load(p + i, 2, r.big_endian)));
          break;
        case miUTF32:
          if (c.size % 4) fail(r, c.at, "UTF-32 char data is not a whole number of 4-byte characters");
          for (size_t i = 0; i < c.size; i += 4) units.push_back(uint32_t(load(p + i, 4, r.big_endian)));
          break;
        default:
          fail(r, c.at, "char data is stored as " + type_name(c.type) + ", expected miUTF8, miUINT16 or miUINT8");
      }
      // Files in the wild hold 0 bytes for a blank string of nonzero size; scipy reads blanks.
      // Never more of them than the input has bytes: a size from the file allocates no more.
      if (c.size == 0 && count > 0 && uint64_t(count) <= r.size) units.assign(size_t(count), ' ');
      if (int64_t(units.size()) != count) {
        fail(r, c.at, "char data holds " + std::to_string(units.size()) + " characters, its dimensions say " +
                          std::to_string(count));
      }
    } else if (count != 0) {
      fail(r, pos, "char data is missing (dimensions say " + std::to_string(count) + " characters)");
    }
    a.rows.resize(static_cast<size_t>(nrows));
    for (int64_t row = 0; row < nrows; ++row) {
      std::string& s = a.rows[row];
      for (int64_t col = 0; col < ncols; ++col) {
        uint32_t u = units[row + nrows * col];
        if (utf16 && u >= 0xD800 && u <= 0xDBFF && col + 1 < ncols) {  // a surrogate pair
          const uint32_t lo = units[row + nrows * (col + 1)];
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            ++col;
          }
        }
        append_utf8(s, u);  // a lone surrogate becomes U+FFFD
      }
    }
  }

  void structure(const Region& r, size_t pos, size_t end, int64_t count, int depth, MatArray& a) {
    a.kind = MatArray::Kind::kStruct;
    const Element len_el = element(r, pos, end);
    if (len_el.type != miINT32 || len_el.size != 4) {
      fail(r, len_el.at, "struct field name length is " + std::to_string(len_el.size) + " bytes of " +
                             type_name(len_el.type) + ", expected one miINT32 (5)");
    }
    const int64_t len = int32_t(u32(r, len_el.data));
    const Element names_el = element(r, len_el.next, end);
    if (names_el.type != miINT8 && names_el.type != miUINT8) {
      fail(r, names_el.at, "struct field names are " + type_name(names_el.type) + ", expected miINT8 (1)");
    }
    if (len < 0 || (len == 0 && names_el.size != 0) || (len > 0 && names_el.size % len != 0)) {
      fail(r, names_el.at, std::to_string(names_el.size) + " bytes of field names are not whole names of " +
                               std::to_string(len) + " bytes");
    }
    const size_t nfields = len == 0 ? 0 : names_el.size / size_t(len);
    charge(r, names_el.at, uint64_t(nfields) * sizeof(std::string) + names_el.size);
    a.field_names.reserve(nfields);
    std::unordered_set<std::string> seen;
    for (size_t f = 0; f < nfields; ++f) {
      const char* p = reinterpret_cast<const char*>(r.data + names_el.data + f * size_t(len));
      const std::string name(p, strnlen(p, size_t(len)));
      if (name.empty()) fail(r, names_el.at, "struct field " + std::to_string(f + 1) + " has an empty name");
      // A repeated name becomes _1_name, _2_name, ... as scipy renames it (MATLAB cannot make
      // one, other writers do).
      std::string unique = name;
      for (int k = 1; !seen.insert(unique).second; ++k) unique = "_" + std::to_string(k) + "_" + name;
      a.field_names.push_back(std::move(unique));
    }
    if (nfields == 0) return;  // no fields: nothing stored per element, however many
    // Each field of each element is an miMATRIX of at least an 8-byte tag.
    size_t at = names_el.next;
    if (uint64_t(count) > (end - at) / 8 / nfields) {
      fail(r, at, "a struct array of " + std::to_string(count) + " elements x " + std::to_string(nfields) +
                      " fields cannot fit in the " + std::to_string(end - at) + " bytes left");
    }
    const size_t total = size_t(count) * nfields;
    charge(r, at, uint64_t(total) * sizeof(MatArray));
    a.elements.reserve(total);
    for (int64_t i = 0; i < count; ++i) {
      for (size_t f = 0; f < nfields; ++f) {
        PathStep step(this, Step{'f', &a.field_names[f], i, count != 1});
        const Element c = element(r, at, end);
        if (c.type != miMATRIX) {
          fail(r, c.at, "a struct field is " + type_name(c.type) + ", expected miMATRIX (14)");
        }
        a.elements.push_back(matrix(r, c, depth + 1, nullptr));
        at = c.next;
      }
    }
  }

  void cells(const Region& r, size_t pos, size_t end, int64_t count, int depth, MatArray& a) {
    a.kind = MatArray::Kind::kCell;
    if (uint64_t(count) > (end - pos) / 8) {
      fail(r, pos, "a cell array of " + std::to_string(count) + " elements cannot fit in the " +
                       std::to_string(end - pos) + " bytes left");
    }
    charge(r, pos, uint64_t(count) * sizeof(MatArray));
    a.elements.reserve(size_t(count));
    size_t at = pos;
    for (int64_t i = 0; i < count; ++i) {
      PathStep step(this, Step{'c', nullptr, i, true});
      const Element c = element(r, at, end);
      if (c.type != miMATRIX) fail(r, c.at, "a cell is " + type_name(c.type) + ", expected miMATRIX (14)");
      a.elements.push_back(matrix(r, c, depth + 1, nullptr));
      at = c.next;
    }
  }

  // Where the parse is, for messages: "synsets(3).WNID", "c{2}".
  struct Step {
    char kind;                // 'v' variable, 'f' struct field, 'c' cell, '-' nothing
    const std::string* name;  // variable or field name
    int64_t index;            // struct element or cell, from 0
    bool show_index;          // a struct element index is shown unless the struct is 1 x 1
  };
  struct PathStep {
    PathStep(Parser* p, const Step& s) : parser(p) { parser->path_.push_back(s); }
    ~PathStep() { parser->path_.pop_back(); }
    Parser* parser;
  };
  std::string path() const {
    std::string out;
    for (const Step& s : path_) {
      if (s.kind == 'v') out += "'" + printable(*s.name) + "'";
      if (s.kind == 'f') {
        out += (s.show_index ? "(" + std::to_string(s.index + 1) + ")" : "") + "." + printable(*s.name);
      }
      if (s.kind == 'c') out += "{" + std::to_string(s.index + 1) + "}";
    }
    return out;
  }

  const std::string& source_;
  const MatLimits& limits_;
  uint64_t inflated_ = 0;
  uint64_t decoded_ = 0;
  std::vector<Step> path_;
};

const char kLayoutHint[] = "HINT: the MAT-file does not have the layout expected";

}  // namespace

const char* mat_class_name(MatClass c) {
  switch (c) {
    case MatClass::kCell: return "cell";
    case MatClass::kStruct: return "struct";
    case MatClass::kChar: return "char";
    case MatClass::kDouble: return "double";
    case MatClass::kSingle: return "single";
    case MatClass::kInt8: return "int8";
    case MatClass::kUInt8: return "uint8";
    case MatClass::kInt16: return "int16";
    case MatClass::kUInt16: return "uint16";
    case MatClass::kInt32: return "int32";
    case MatClass::kUInt32: return "uint32";
    case MatClass::kInt64: return "int64";
    case MatClass::kUInt64: return "uint64";
  }
  return "unknown";
}

int64_t MatArray::count() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string MatArray::describe() const {
  std::string out;
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? "x" : "") + std::to_string(dims[i]);
  return out + " " + mat_class_name(mat_class);
}

int MatArray::field_index(const std::string& name) const {
  if (kind != Kind::kStruct) return -1;
  for (size_t i = 0; i < field_names.size(); ++i) {
    if (field_names[i] == name) return int(i);
  }
  return -1;
}

const MatArray& MatArray::field(int64_t element, const std::string& name) const {
  if (kind != Kind::kStruct) {
    throw data_error("MAT array: a " + describe() + " has no field '" + name + "' (it is not a struct); " +
                     kLayoutHint);
  }
  const int f = field_index(name);
  if (f < 0) {
    throw data_error("MAT array: the " + describe() + " has no field '" + name + "' (its fields: " +
                     name_list(field_names) + "); " + kLayoutHint);
  }
  if (element < 0 || element >= count()) {
    throw data_error("MAT array: element " + std::to_string(element + 1) + " of a " + describe() +
                     " does not exist; " + kLayoutHint);
  }
  return elements[size_t(element) * field_names.size() + size_t(f)];
}

const MatArray& MatArray::cell(int64_t i) const {
  if (kind != Kind::kCell || i < 0 || i >= count()) {
    throw data_error("MAT array: a " + describe() + " has no cell " + std::to_string(i + 1) + "; " + kLayoutHint);
  }
  return elements[size_t(i)];
}

std::string MatArray::text() const {
  if (kind != Kind::kChar || rows.size() > 1) {
    throw data_error("MAT array: a " + describe() + " is not a string (a char row); " + kLayoutHint);
  }
  return rows.empty() ? std::string() : rows[0];
}

double MatArray::scalar() const {
  if (kind != Kind::kNumeric || numbers.size() != 1) {
    throw data_error("MAT array: a " + describe() + " is not a numeric scalar; " + kLayoutHint);
  }
  return numbers[0];
}

std::map<std::string, MatArray> read_mat(const std::vector<uint8_t>& bytes, const std::string& source,
                                         const MatLimits& limits) {
  return Parser(source, limits).parse(bytes);
}

}  // namespace zoo
