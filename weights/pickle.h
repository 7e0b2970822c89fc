// A weights-only subset of Python's pickle, enough for what torch.save writes for state dicts
// and checkpoints (protocols 2-5; the opcodes are those of Python's pickletools module).
//
// Unpickler: a stack machine that builds a tree of inert Objects. It never executes or imports
// anything: GLOBAL / STACK_GLOBAL are accepted only for collections.OrderedDict, the
// torch._utils tensor/parameter rebuild functions, torch.<Type>Storage and the Tensor/Parameter
// type markers; any other global is refused with a data Error before anything else happens.
// Persistent ids become StorageRefs and _rebuild_tensor_v2 becomes a TensorRef; the caller
// supplies the storage bytes and builds the tensors (weights_io.cpp). Every read is
// bounds-checked; objects are capped (kMaxObjects) so a hostile pickle cannot exhaust memory.
//
// Pickler: writes the exact opcode subset torch.save emits for an OrderedDict of tensors
// (no memo, no frames), so that torch.load(weights_only=True) of any version accepts it.
//
// Leaves out: sets, NEWOBJ, EXT codes, protocol 0/1 text opcodes, Python 2 unicode decoding,
// sparse/quantized/meta tensors.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zoo {
namespace pickle {

constexpr size_t kMaxObjects = 4'000'000;  // a state dict needs ~30 per tensor
constexpr size_t kMaxDims = 64;            // more tensor dimensions than this is corruption

enum class Kind {
  kNone,
  kBool,
  kInt,
  kBigInt,  // a LONG wider than 64 bits; text holds the little-endian bytes
  kFloat,
  kStr,
  kBytes,
  kTuple,
  kList,
  kDict,     // dict or collections.OrderedDict, insertion-ordered
  kGlobal,   // an allowed global; text is "module.name"
  kStorage,  // a persistent-id storage reference
  kTensor,   // a _rebuild_tensor_v2 result (not yet materialised)
};

const char* kind_name(Kind kind);

struct Object;

struct StorageRef {
  std::string key;  // record data/<key> (zip) or storage key (legacy)
  c10::ScalarType dtype = c10::ScalarType::Float;
  int64_t numel = 0;        // elements of the whole storage
  int64_t view_offset = 0;  // legacy (< 0.4) storage views: window into the storage
  int64_t view_numel = 0;   // elements visible through the view (== numel without one)
};

struct TensorRef {
  const StorageRef* storage = nullptr;
  int64_t offset = 0;  // in elements, relative to the storage view
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

// Kept small (hostile pickles may hold millions): the rarer parts live behind pointers.
struct Object {
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  std::string text;                                  // kStr, kBytes, kGlobal, kBigInt
  std::vector<Object*> items;                        // kTuple, kList
  std::vector<std::pair<Object*, Object*>> entries;  // kDict
  std::unique_ptr<std::unordered_map<std::string, size_t>> str_index;  // kDict: key -> entry
  std::unique_ptr<StorageRef> storage;                                 // kStorage
  std::unique_ptr<TensorRef> tensor;                                   // kTensor

  // kDict: the value under a string key, or nullptr.
  const Object* get(const std::string& key) const;
};

// Parses pickles out of one buffer. Objects live as long as the Unpickler. `source` names the
// file (and record) in error messages.
class Unpickler {
 public:
  Unpickler(const char* data, size_t size, std::string source);
  ~Unpickler();
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Runs from byte `pos` to the next STOP and returns the object it left; `pos` is advanced
  // past the STOP (legacy files hold several pickles back to back). Throws data_error.
  const Object* load(size_t& pos);

  // Every storage reference made so far, in order (legacy files need the element sizes of all
  // storages, used or not, to walk the data that follows the pickles).
  std::vector<const StorageRef*> storages() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Text from a file made safe for a one-line error message: control and non-ASCII bytes become
// \xNN, and anything past max_length is cut to "...".
std::string printable(const std::string& text, size_t max_length = 80);

// Python names of the storage classes, e.g. Float -> "FloatStorage"; nullptr if unsupported.
const char* storage_type_name(c10::ScalarType dtype);

// One tensor as torch.save pickles it: its own storage record, contiguous strides.
struct PickledTensor {
  std::string name;  // state-dict key
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::string storage_key;  // record data/<storage_key>
  int64_t numel = 0;
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

// The data.pkl of torch.save(OrderedDict(name -> tensor)), protocol 2.
std::string pickle_tensor_dict(const std::vector<PickledTensor>& tensors);

}  // namespace pickle
}  // namespace zoo
