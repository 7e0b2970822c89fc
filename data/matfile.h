// Reader for MATLAB Level 5 MAT-files: what MATLAB's `save` writes for -v6 and -v7 (the
// default up to R2006b and the format of the ILSVRC devkit's meta.mat) and what
// scipy.io.savemat writes. Torch-free: common/ headers and zlib.
//
// The format (MathWorks, "MAT-File Format", Level 5):
//  - a 128-byte header: 116 bytes of text ("MATLAB 5.0 MAT-file, Platform: ..."), an 8-byte
//    subsystem data offset, the version 0x0100 and the endian indicator "IM" (little-endian
//    file) or "MI" (big-endian file); every number after it is in the file's byte order;
//  - then data elements, each an 8-byte tag (type, byte count) and its data padded to 8 bytes,
//    or in the small format a 4-byte tag (byte count in the upper 16 bits, nonzero) and up to
//    4 bytes of data; at the top level each is an miMATRIX (a variable) or an miCOMPRESSED
//    (zlib data holding one miMATRIX, what -v7 writes);
//  - an miMATRIX holds the array flags (class), the dimensions (column-major, >= 2), the name
//    and then: for a numeric class the real part, stored in any integer or floating storage
//    type (MATLAB stores a double array of small integers as miUINT8, say); for char the
//    characters (miUTF8, miUINT16 = UTF-16 code units as MATLAB holds them, miUTF16, miUTF32,
//    or miUINT8/miINT8 read as Latin-1); for a struct the field name length, the field names
//    and one miMATRIX per element and field; for a cell one miMATRIX per element. An miMATRIX
//    of zero bytes is an empty array: MATLAB's [], 0 x 0 double (scipy makes it 1 x 0).
//
// Where writers stray from the format, the reader does what scipy.io.loadmat does: a repeated
// variable name keeps the later variable; a repeated field name becomes _1_NAME, _2_NAME, ...;
// ill-formed UTF-8 becomes U+FFFD; dimensions stored as miUINT32 and names as miUTF8 are read.
// Variables with an empty name (MATLAB's subsystem data) are skipped. Every file of scipy's
// own MAT-file test data that scipy reads and that holds only what is supported here reads
// the same (tests/test_matfile.cpp).
//
// Left out, each a data_error saying so: sparse, complex and logical arrays, objects, function
// handles and other opaque classes, compressed elements below the top level, MAT-file v7.3
// (HDF5) and Level 4 files (the hint for both: re-save with `save -v7`).
//
// The reader trusts nothing: every length is checked against the bytes that remain before it
// is used, nothing is allocated for a size the input cannot back, inflated data and decoded
// values have caps (MatLimits), nesting has a depth limit. Malformed input is a data_error
// "MAT-file SOURCE, variable 'synsets'(3).WNID, byte offset N: what; HINT: ..." (offsets inside
// compressed data are in the inflated data, and say so).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zoo {

// MATLAB's array classes that the reader returns (mxCLASS_ID values).
enum class MatClass : uint8_t {
  kCell = 1,
  kStruct = 2,
  kChar = 4,
  kDouble = 6,
  kSingle = 7,
  kInt8 = 8,
  kUInt8 = 9,
  kInt16 = 10,
  kUInt16 = 11,
  kInt32 = 12,
  kUInt32 = 13,
  kInt64 = 14,
  kUInt64 = 15,
};

// "double", "int32", "char", "struct", "cell", ... (MATLAB's class() names).
const char* mat_class_name(MatClass c);

// One MATLAB array. Element order is MATLAB's, column-major.
struct MatArray {
  enum class Kind { kNumeric, kChar, kStruct, kCell };
  Kind kind = Kind::kNumeric;
  MatClass mat_class = MatClass::kDouble;  // which numeric class; kChar/kStruct/kCell otherwise
  std::vector<int64_t> dims = {0, 0};      // >= 2 entries

  // kNumeric: count() values converted to double whatever the storage type (64-bit integers
  // beyond 2^53 round), as stored: not cast to the class.
  std::vector<double> numbers;
  // kChar: dims[0] rows as UTF-8 (dimensions past the second are flattened into columns). A
  // 1 x N char array, MATLAB's string, is one row; a 0 x 0 one has no rows.
  std::vector<std::string> rows;
  // kStruct: the field names in file order.
  std::vector<std::string> field_names;
  // kStruct: count() * field_names.size() arrays, element-major (element e's field f is
  // elements[e * field_names.size() + f]); kCell: count() arrays.
  std::vector<MatArray> elements;

  int64_t count() const;  // the product of dims
  bool empty() const { return count() == 0; }
  std::string describe() const;  // "1860x1 struct", "0x0 double", for messages

  // kStruct: the index of a field, or -1.
  int field_index(const std::string& name) const;
  // kStruct: element `element`'s field `name`. Throws data_error for a missing field, an
  // element out of range, or an array that is not a struct.
  const MatArray& field(int64_t element, const std::string& name) const;
  // kCell: element i. Throws data_error when out of range or not a cell.
  const MatArray& cell(int64_t i) const;
  // kChar with at most one row: its text ("" when empty). Throws data_error otherwise.
  std::string text() const;
  // kNumeric with exactly one element: its value. Throws data_error otherwise.
  double scalar() const;
};

// Caps on what one file may cost; the defaults suit any real dataset file, a fuzzer may lower
// them.
struct MatLimits {
  uint64_t max_inflated_bytes = uint64_t(1) << 30;  // all miCOMPRESSED data inflated, in all
  uint64_t max_decoded_bytes = uint64_t(2) << 30;   // values, strings and array nodes built
  int max_depth = 32;                               // arrays inside arrays
};

// The top-level variables of a MAT-file's bytes, by name. `source` names the file in errors.
// Throws data_error for anything malformed or unsupported.
std::map<std::string, MatArray> read_mat(const std::vector<uint8_t>& bytes, const std::string& source,
                                         const MatLimits& limits = {});

}  // namespace zoo
