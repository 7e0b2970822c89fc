// Weights-only unpickler and minimal pickler; see pickle.h.
#include "weights/pickle.h"

#include "common/error.h"

#include <cstring>

namespace zoo {
namespace pickle {

namespace {

// What an allowed global is for.
enum class Role {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildTensor,
  kRebuildParameter,
  kRebuildParameterWithState,
  kRebuildFromTypeV2,
  kStorageType,
  kTensorType,
};

struct AllowedGlobal {
  const char* name;  // "module.name"
  Role role;
  c10::ScalarType dtype;  // kStorageType only
};

// The complete allow-list. Module "torch.tensor" is read as "torch._tensor" (as torch does) and
// "torch.cuda.<T>Storage" as "torch.<T>Storage" (old GPU-saved files; we always load to CPU).
constexpr c10::ScalarType kNoType = c10::ScalarType::Undefined;
const AllowedGlobal kAllowedGlobals[] = {
    {"collections.OrderedDict", Role::kOrderedDict, kNoType},
    {"torch._utils._rebuild_tensor_v2", Role::kRebuildTensorV2, kNoType},
    {"torch._utils._rebuild_tensor", Role::kRebuildTensor, kNoType},
    {"torch._utils._rebuild_parameter", Role::kRebuildParameter, kNoType},
    {"torch._utils._rebuild_parameter_with_state", Role::kRebuildParameterWithState, kNoType},
    {"torch._tensor._rebuild_from_type_v2", Role::kRebuildFromTypeV2, kNoType},
    {"torch.Tensor", Role::kTensorType, kNoType},
    {"torch._tensor.Tensor", Role::kTensorType, kNoType},
    {"torch.nn.parameter.Parameter", Role::kTensorType, kNoType},
    {"torch.FloatStorage", Role::kStorageType, c10::ScalarType::Float},
    {"torch.DoubleStorage", Role::kStorageType, c10::ScalarType::Double},
    {"torch.HalfStorage", Role::kStorageType, c10::ScalarType::Half},
    {"torch.BFloat16Storage", Role::kStorageType, c10::ScalarType::BFloat16},
    {"torch.LongStorage", Role::kStorageType, c10::ScalarType::Long},
    {"torch.IntStorage", Role::kStorageType, c10::ScalarType::Int},
    {"torch.ShortStorage", Role::kStorageType, c10::ScalarType::Short},
    {"torch.CharStorage", Role::kStorageType, c10::ScalarType::Char},
    {"torch.ByteStorage", Role::kStorageType, c10::ScalarType::Byte},
    {"torch.BoolStorage", Role::kStorageType, c10::ScalarType::Bool},
    {"torch.ComplexFloatStorage", Role::kStorageType, c10::ScalarType::ComplexFloat},
    {"torch.ComplexDoubleStorage", Role::kStorageType, c10::ScalarType::ComplexDouble},
    {"torch.UntypedStorage", Role::kStorageType, c10::ScalarType::Byte},
};

const AllowedGlobal* find_allowed(std::string module, const std::string& name) {
  if (module == "torch.tensor") module = "torch._tensor";
  if (module == "torch.cuda" && name.size() > 7 &&
      name.compare(name.size() - 7, 7, "Storage") == 0) {
    module = "torch";
  }
  const std::string full = module + "." + name;
  for (const auto& g : kAllowedGlobals) {
    if (full == g.name) return &g;
  }
  return nullptr;
}

// Pickle opcodes (pickletools.py).
namespace op {
constexpr unsigned char kMark = '(';
constexpr unsigned char kStop = '.';
constexpr unsigned char kPop = '0';
constexpr unsigned char kPopMark = '1';
constexpr unsigned char kDup = '2';
constexpr unsigned char kBinInt = 'J';
constexpr unsigned char kBinInt1 = 'K';
constexpr unsigned char kBinInt2 = 'M';
constexpr unsigned char kNone = 'N';
constexpr unsigned char kBinPersId = 'Q';
constexpr unsigned char kReduce = 'R';
constexpr unsigned char kBinString = 'T';
constexpr unsigned char kShortBinString = 'U';
constexpr unsigned char kBinUnicode = 'X';
constexpr unsigned char kAppend = 'a';
constexpr unsigned char kBuild = 'b';
constexpr unsigned char kGlobal = 'c';
constexpr unsigned char kDict = 'd';
constexpr unsigned char kEmptyDict = '}';
constexpr unsigned char kAppends = 'e';
constexpr unsigned char kBinGet = 'h';
constexpr unsigned char kLongBinGet = 'j';
constexpr unsigned char kList = 'l';
constexpr unsigned char kEmptyList = ']';
constexpr unsigned char kBinPut = 'q';
constexpr unsigned char kLongBinPut = 'r';
constexpr unsigned char kSetItem = 's';
constexpr unsigned char kTuple = 't';
constexpr unsigned char kEmptyTuple = ')';
constexpr unsigned char kSetItems = 'u';
constexpr unsigned char kBinFloat = 'G';
constexpr unsigned char kBinBytes = 'B';
constexpr unsigned char kShortBinBytes = 'C';
constexpr unsigned char kProto = 0x80;
constexpr unsigned char kTuple1 = 0x85;
constexpr unsigned char kTuple2 = 0x86;
constexpr unsigned char kTuple3 = 0x87;
constexpr unsigned char kNewTrue = 0x88;
constexpr unsigned char kNewFalse = 0x89;
constexpr unsigned char kLong1 = 0x8a;
constexpr unsigned char kLong4 = 0x8b;
constexpr unsigned char kShortBinUnicode = 0x8c;
constexpr unsigned char kBinUnicode8 = 0x8d;
constexpr unsigned char kBinBytes8 = 0x8e;
constexpr unsigned char kStackGlobal = 0x93;
constexpr unsigned char kMemoize = 0x94;
constexpr unsigned char kFrame = 0x95;
}  // namespace op

std::string describe_opcode(unsigned char c) {
  static const char* hex = "0123456789abcdef";
  std::string s = "0x";
  s += hex[c >> 4];
  s += hex[c & 15];
  if (c >= 0x20 && c < 0x7f) s += std::string(" '") + static_cast<char>(c) + "'";
  return s;
}

bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kBigInt: return "int (over 64 bits)";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
  }
  return "?";
}

const Object* Object::get(const std::string& key) const {
  if (!str_index) return nullptr;
  const auto it = str_index->find(key);
  return it == str_index->end() ? nullptr : entries[it->second].second;
}

struct Unpickler::Impl {
  const unsigned char* data;
  size_t size;
  std::string source;
  size_t pos = 0;
  size_t op_pos = 0;  // offset of the opcode being run, for messages
  std::vector<std::unique_ptr<Object>> arena;
  std::vector<Object*> stack;
  std::vector<size_t> marks;  // stack heights at each MARK
  std::unordered_map<uint64_t, Object*> memo;
  std::vector<const StorageRef*> storages;

  [[noreturn]] void corrupt(const std::string& what) const {
    throw data_error("corrupt pickle in " + source + " at byte " + std::to_string(op_pos) + ": " +
                     what +
                     "; HINT: the file is damaged or was not written by torch.save; download or "
                     "save it again");
  }

  [[noreturn]] void refuse_global(const std::string& module, const std::string& name) const {
    std::string hint =
        "HINT: if you trust the file, load it in Python and re-save the weights with "
        "torch.save(model.state_dict(), path), or convert them to .safetensors";
    if (module.rfind("__torch__", 0) == 0) {
      hint =
          "HINT: this looks like a TorchScript archive (torch.jit.save); save its "
          "state_dict() with torch.save instead";
    }
    throw data_error("refusing to load " + source + ": its pickle uses the Python global '" +
                     printable(module + "." + name) +
                     "'; zoo reads weights only and allows just tensors, storages and ordered "
                     "dicts (nothing in the file was executed); " +
                     hint);
  }

  Object* make(Kind kind) {
    if (arena.size() >= kMaxObjects) {
      corrupt("more than " + std::to_string(kMaxObjects) + " objects, far beyond any state dict");
    }
    arena.push_back(std::make_unique<Object>());
    arena.back()->kind = kind;
    return arena.back().get();
  }

  const unsigned char* take(uint64_t n) {
    if (n > size - pos) {
      corrupt("truncated: needs " + std::to_string(n) + " more bytes, only " +
              std::to_string(size - pos) + " left");
    }
    const unsigned char* p = data + pos;
    pos += static_cast<size_t>(n);
    return p;
  }
  uint64_t read_le(size_t n) {
    const unsigned char* p = take(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
  }
  std::string read_bytes(uint64_t n) {
    const unsigned char* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }
  std::string read_line() {
    const void* nl = std::memchr(data + pos, '\n', size - pos);
    if (nl == nullptr) corrupt("truncated: a GLOBAL name has no end of line");
    const size_t n = static_cast<const unsigned char*>(nl) - (data + pos);
    std::string s = read_bytes(n);
    ++pos;  // the newline
    return s;
  }

  size_t floor() const { return marks.empty() ? 0 : marks.back(); }
  void push(Object* o) { stack.push_back(o); }
  Object* pop() {
    if (stack.size() <= floor()) corrupt("stack underflow");
    Object* o = stack.back();
    stack.pop_back();
    return o;
  }
  Object* top() {
    if (stack.size() <= floor()) corrupt("stack underflow");
    return stack.back();
  }
  std::vector<Object*> pop_mark() {
    if (marks.empty()) corrupt("no MARK to pop to");
    const size_t m = marks.back();
    marks.pop_back();
    std::vector<Object*> items(stack.begin() + static_cast<std::ptrdiff_t>(m), stack.end());
    stack.resize(m);
    return items;
  }

  Object* make_int(int64_t v) {
    Object* o = make(Kind::kInt);
    o->integer = v;
    return o;
  }
  Object* make_str(Kind kind, std::string s) {
    Object* o = make(kind);
    o->text = std::move(s);
    return o;
  }
  Object* make_tuple(std::vector<Object*> items) {
    Object* o = make(Kind::kTuple);
    o->items = std::move(items);
    return o;
  }
  // Little-endian two's complement of n bytes (LONG1 / LONG4).
  Object* make_long(uint64_t n) {
    const unsigned char* p = take(n);
    if (n > 8) {
      Object* o = make(Kind::kBigInt);
      o->text.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
      return o;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    int64_t s;
    std::memcpy(&s, &v, sizeof s);
    return make_int(s);
  }

  void set_item(Object* dict, Object* key, Object* value) {
    if (dict->kind != Kind::kDict) {
      corrupt(std::string("SETITEM on a ") + kind_name(dict->kind) + ", expected a dict");
    }
    if (key->kind == Kind::kStr) {
      if (!dict->str_index) {
        dict->str_index = std::make_unique<std::unordered_map<std::string, size_t>>();
      }
      const auto it = dict->str_index->find(key->text);
      if (it != dict->str_index->end()) {
        dict->entries[it->second].second = value;
        return;
      }
      dict->str_index->emplace(key->text, dict->entries.size());
    }
    dict->entries.emplace_back(key, value);
  }

  void global(const std::string& module, const std::string& name) {
    const AllowedGlobal* g = find_allowed(module, name);
    if (g == nullptr) refuse_global(module, name);
    push(make_str(Kind::kGlobal, g->name));
  }

  const AllowedGlobal& role_of(const Object* o) const {
    for (const auto& g : kAllowedGlobals) {
      if (o->text == g.name) return g;
    }
    corrupt("unknown global " + o->text);  // unreachable: only allowed globals are made
  }

  int64_t as_int(const Object* o, const char* what) const {
    if (o->kind != Kind::kInt) {
      corrupt(std::string(what) + " is a " + kind_name(o->kind) + ", expected an int");
    }
    return o->integer;
  }
  std::vector<int64_t> as_int_tuple(const Object* o, const char* what) const {
    if (o->kind != Kind::kTuple && o->kind != Kind::kList) {
      corrupt(std::string(what) + " is a " + kind_name(o->kind) + ", expected a tuple of ints");
    }
    std::vector<int64_t> v;
    for (const Object* i : o->items) {
      const int64_t x = as_int(i, what);
      if (x < 0) corrupt(std::string(what) + " has a negative entry " + std::to_string(x));
      v.push_back(x);
    }
    return v;
  }
  static bool is_storage_word(const Object* o) {
    return (o->kind == Kind::kStr || o->kind == Kind::kBytes) && o->text == "storage";
  }

  // BINPERSID: ('storage', <T>Storage, key, location, numel[, view_metadata]).
  Object* persistent_load(const Object* pid) {
    if (pid->kind != Kind::kTuple || pid->items.empty() || !is_storage_word(pid->items[0])) {
      corrupt("a persistent id is not a ('storage', ...) tuple");
    }
    const auto& f = pid->items;
    if (f.size() != 5 && f.size() != 6) {
      corrupt("a storage persistent id has " + std::to_string(f.size()) +
              " fields, expected 5 or 6");
    }
    if (f[1]->kind != Kind::kGlobal || role_of(f[1]).role != Role::kStorageType) {
      corrupt("a storage persistent id does not name a storage type");
    }
    if (f[2]->kind != Kind::kStr && f[2]->kind != Kind::kBytes) {
      corrupt("a storage key is not a string");
    }
    Object* s = make(Kind::kStorage);
    s->storage = std::make_unique<StorageRef>();
    StorageRef& ref = *s->storage;
    ref.key = f[2]->text;
    ref.dtype = role_of(f[1]).dtype;
    ref.numel = as_int(f[4], "a storage size");
    if (ref.numel < 0) corrupt("a storage has a negative size");
    ref.view_numel = ref.numel;
    if (f.size() == 6 && f[5]->kind != Kind::kNone) {
      // Legacy storage view: (view_key, offset, view_size).
      const Object* v = f[5];
      if (v->kind != Kind::kTuple || v->items.size() != 3) corrupt("bad storage view metadata");
      const int64_t offset = as_int(v->items[1], "a storage view offset");
      const int64_t numel = as_int(v->items[2], "a storage view size");
      int64_t end = 0;
      if (offset < 0 || numel < 0 || !checked_add(offset, numel, &end) || end > ref.numel) {
        corrupt("a storage view lies outside its storage");
      }
      ref.view_offset = offset;
      ref.view_numel = numel;
    }
    storages.push_back(&ref);
    return s;
  }

  Object* rebuild_tensor(const std::vector<Object*>& args, bool v2) {
    if (v2 ? (args.size() < 6 || args.size() > 7) : args.size() != 4) {
      corrupt(std::string("_rebuild_tensor") + (v2 ? "_v2" : "") + " called with " +
              std::to_string(args.size()) + " arguments");
    }
    if (args[0]->kind != Kind::kStorage) {
      corrupt(std::string("a tensor is built from a ") + kind_name(args[0]->kind) +
              ", expected a storage");
    }
    Object* t = make(Kind::kTensor);
    t->tensor = std::make_unique<TensorRef>();
    TensorRef& ref = *t->tensor;
    const StorageRef& storage = *args[0]->storage;
    ref.storage = &storage;
    ref.offset = as_int(args[1], "a tensor storage offset");
    if (ref.offset < 0) corrupt("a tensor has a negative storage offset");
    ref.size = as_int_tuple(args[2], "a tensor size");
    ref.stride = as_int_tuple(args[3], "a tensor stride");
    if (ref.size.size() > kMaxDims) {
      corrupt("a tensor has " + std::to_string(ref.size.size()) + " dimensions, more than " +
              std::to_string(kMaxDims));
    }
    if (ref.size.size() != ref.stride.size()) {
      corrupt("a tensor has " + std::to_string(ref.size.size()) + " sizes but " +
              std::to_string(ref.stride.size()) + " strides");
    }
    // The view must fit in the storage: offset + sum((size-1)*stride) < numel.
    int64_t numel = 1;
    int64_t last = ref.offset;
    for (size_t d = 0; d < ref.size.size(); ++d) {
      int64_t span = 0;
      if (!checked_mul(numel, ref.size[d], &numel)) corrupt("a tensor size overflows");
      if (ref.size[d] == 0) continue;
      if (!checked_mul(ref.size[d] - 1, ref.stride[d], &span) || !checked_add(last, span, &last)) {
        corrupt("a tensor stride overflows");
      }
    }
    if (numel > 0 && last >= storage.view_numel) {
      corrupt("a tensor view needs " + std::to_string(last + 1) + " elements but its storage '" +
              printable(storage.key) + "' has " + std::to_string(storage.view_numel));
    }
    return t;
  }

  Object* call(const Object* func, const Object* args_obj) {
    if (func->kind != Kind::kGlobal) {
      corrupt(std::string("REDUCE calls a ") + kind_name(func->kind));
    }
    if (args_obj->kind != Kind::kTuple) {
      corrupt(std::string("REDUCE arguments are a ") + kind_name(args_obj->kind) +
              ", expected a tuple");
    }
    const auto& args = args_obj->items;
    const AllowedGlobal& g = role_of(func);
    switch (g.role) {
      case Role::kOrderedDict: {
        Object* d = make(Kind::kDict);
        if (args.empty()) return d;
        if (args.size() == 1 && (args[0]->kind == Kind::kList || args[0]->kind == Kind::kTuple)) {
          for (Object* pair : args[0]->items) {
            if ((pair->kind != Kind::kTuple && pair->kind != Kind::kList) ||
                pair->items.size() != 2) {
              corrupt("OrderedDict items are not (key, value) pairs");
            }
            set_item(d, pair->items[0], pair->items[1]);
          }
          return d;
        }
        corrupt("OrderedDict called with unexpected arguments");
      }
      case Role::kRebuildTensorV2: return rebuild_tensor(args, true);
      case Role::kRebuildTensor: return rebuild_tensor(args, false);
      case Role::kRebuildParameter:
      case Role::kRebuildParameterWithState: {
        const size_t want = g.role == Role::kRebuildParameter ? 3 : 4;
        if (args.size() != want || args[0]->kind != Kind::kTensor) {
          corrupt(std::string(g.name) + " called with unexpected arguments");
        }
        return args[0];
      }
      case Role::kRebuildFromTypeV2: {
        // (func, new_type, args, state): plain Tensor/Parameter types only; state ignored.
        if (args.size() != 4 || args[1]->kind != Kind::kGlobal ||
            role_of(args[1]).role != Role::kTensorType || args[0]->kind != Kind::kGlobal) {
          corrupt("_rebuild_from_type_v2 called with unexpected arguments");
        }
        const Role inner = role_of(args[0]).role;
        if (inner != Role::kRebuildTensorV2 && inner != Role::kRebuildTensor &&
            inner != Role::kRebuildParameter && inner != Role::kRebuildParameterWithState) {
          corrupt("_rebuild_from_type_v2 wraps " + args[0]->text);
        }
        return call(args[0], args[2]);
      }
      case Role::kStorageType:
      case Role::kTensorType: corrupt("REDUCE calls the type " + func->text);
    }
    corrupt("REDUCE on " + func->text);
  }

  const Object* run() {
    while (true) {
      op_pos = pos;
      if (pos >= size) corrupt("truncated: no STOP opcode before the end");
      const unsigned char code = data[pos++];
      switch (code) {
        case op::kProto: {
          const unsigned v = static_cast<unsigned>(read_le(1));
          if (v > 5) corrupt("pickle protocol " + std::to_string(v) + " is newer than 5");
          break;
        }
        case op::kFrame: read_le(8); break;  // framing is only a read-ahead hint
        case op::kStop: {
          Object* result = pop();
          return result;
        }
        case op::kMark: marks.push_back(stack.size()); break;
        case op::kPop: pop(); break;
        case op::kPopMark: pop_mark(); break;
        case op::kDup: push(top()); break;
        case op::kNone: push(make(Kind::kNone)); break;
        case op::kNewTrue:
        case op::kNewFalse: {
          Object* o = make(Kind::kBool);
          o->boolean = code == op::kNewTrue;
          push(o);
          break;
        }
        case op::kBinInt: {
          const auto u = static_cast<uint32_t>(read_le(4));
          int32_t s;
          std::memcpy(&s, &u, sizeof s);
          push(make_int(s));
          break;
        }
        case op::kBinInt1: push(make_int(static_cast<int64_t>(read_le(1)))); break;
        case op::kBinInt2: push(make_int(static_cast<int64_t>(read_le(2)))); break;
        case op::kLong1: push(make_long(read_le(1))); break;
        case op::kLong4: {
          const auto n = static_cast<uint32_t>(read_le(4));
          if (n & 0x80000000u) corrupt("negative LONG4 length");
          push(make_long(n));
          break;
        }
        case op::kBinFloat: {
          const unsigned char* p = take(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
          Object* o = make(Kind::kFloat);
          std::memcpy(&o->real, &bits, sizeof bits);
          push(o);
          break;
        }
        case op::kShortBinString: push(make_str(Kind::kStr, read_bytes(read_le(1)))); break;
        case op::kBinString: {
          const auto n = static_cast<uint32_t>(read_le(4));
          if (n & 0x80000000u) corrupt("negative BINSTRING length");
          push(make_str(Kind::kStr, read_bytes(n)));
          break;
        }
        case op::kShortBinUnicode: push(make_str(Kind::kStr, read_bytes(read_le(1)))); break;
        case op::kBinUnicode: push(make_str(Kind::kStr, read_bytes(read_le(4)))); break;
        case op::kBinUnicode8: push(make_str(Kind::kStr, read_bytes(read_le(8)))); break;
        case op::kShortBinBytes: push(make_str(Kind::kBytes, read_bytes(read_le(1)))); break;
        case op::kBinBytes: push(make_str(Kind::kBytes, read_bytes(read_le(4)))); break;
        case op::kBinBytes8: push(make_str(Kind::kBytes, read_bytes(read_le(8)))); break;
        case op::kEmptyTuple: push(make(Kind::kTuple)); break;
        case op::kTuple: push(make_tuple(pop_mark())); break;
        case op::kTuple1: {
          Object* a = pop();
          push(make_tuple({a}));
          break;
        }
        case op::kTuple2: {
          Object* b = pop();
          Object* a = pop();
          push(make_tuple({a, b}));
          break;
        }
        case op::kTuple3: {
          Object* c = pop();
          Object* b = pop();
          Object* a = pop();
          push(make_tuple({a, b, c}));
          break;
        }
        case op::kEmptyList: push(make(Kind::kList)); break;
        case op::kList: {
          Object* l = make(Kind::kList);
          l->items = pop_mark();
          push(l);
          break;
        }
        case op::kAppend: {
          Object* item = pop();
          Object* list = top();
          if (list->kind != Kind::kList) corrupt("APPEND to a non-list");
          list->items.push_back(item);
          break;
        }
        case op::kAppends: {
          std::vector<Object*> items = pop_mark();
          Object* list = top();
          if (list->kind != Kind::kList) corrupt("APPENDS to a non-list");
          list->items.insert(list->items.end(), items.begin(), items.end());
          break;
        }
        case op::kEmptyDict: push(make(Kind::kDict)); break;
        case op::kDict: {
          std::vector<Object*> items = pop_mark();
          if (items.size() % 2 != 0) corrupt("DICT with an odd number of items");
          Object* d = make(Kind::kDict);
          for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1]);
          push(d);
          break;
        }
        case op::kSetItem: {
          Object* value = pop();
          Object* key = pop();
          set_item(top(), key, value);
          break;
        }
        case op::kSetItems: {
          std::vector<Object*> items = pop_mark();
          if (items.size() % 2 != 0) corrupt("SETITEMS with an odd number of items");
          Object* d = top();
          for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1]);
          break;
        }
        case op::kBinPut: memo[read_le(1)] = top(); break;
        case op::kLongBinPut: memo[read_le(4)] = top(); break;
        case op::kMemoize: {
          Object* o = top();
          memo[memo.size()] = o;
          break;
        }
        case op::kBinGet:
        case op::kLongBinGet: {
          const uint64_t index = read_le(code == op::kBinGet ? 1 : 4);
          const auto it = memo.find(index);
          if (it == memo.end()) corrupt("memo index " + std::to_string(index) + " was never set");
          push(it->second);
          break;
        }
        case op::kGlobal: {
          const std::string module = read_line();
          const std::string name = read_line();
          global(module, name);
          break;
        }
        case op::kStackGlobal: {
          Object* name = pop();
          Object* module = pop();
          if (name->kind != Kind::kStr || module->kind != Kind::kStr) {
            corrupt("STACK_GLOBAL names are not strings");
          }
          global(module->text, name->text);
          break;
        }
        case op::kReduce: {
          Object* args = pop();
          Object* func = pop();
          push(call(func, args));
          break;
        }
        case op::kBuild: {
          pop();  // state: only an OrderedDict's attributes (_metadata) are expected; ignored
          Object* inst = top();
          if (inst->kind != Kind::kDict) {
            corrupt(std::string("BUILD on a ") + kind_name(inst->kind) + ", expected a dict");
          }
          break;
        }
        case op::kBinPersId: push(persistent_load(pop())); break;
        default:
          corrupt("unsupported or unknown opcode " + describe_opcode(code) +
                  " (zoo reads the opcodes torch.save writes)");
      }
    }
  }
};

Unpickler::Unpickler(const char* data, size_t size, std::string source)
    : impl_(std::make_unique<Impl>()) {
  impl_->data = reinterpret_cast<const unsigned char*>(data);
  impl_->size = size;
  impl_->source = std::move(source);
}

Unpickler::~Unpickler() = default;

const Object* Unpickler::load(size_t& pos) {
  Impl& m = *impl_;
  m.pos = pos;
  m.stack.clear();
  m.marks.clear();
  m.memo.clear();
  const Object* result = m.run();
  pos = m.pos;
  return result;
}

std::string printable(const std::string& text, size_t max_length) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_length) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::vector<const StorageRef*> Unpickler::storages() const { return impl_->storages; }

const char* storage_type_name(c10::ScalarType dtype) {
  for (const auto& g : kAllowedGlobals) {
    if (g.role == Role::kStorageType && g.dtype == dtype &&
        std::strcmp(g.name, "torch.UntypedStorage") != 0) {
      return g.name + 6;  // after "torch."
    }
  }
  return nullptr;
}

namespace {

class Writer {
 public:
  std::string out;

  void op(unsigned char c) { out.push_back(static_cast<char>(c)); }
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void global(const char* module, const char* name) {
    op(op::kGlobal);
    out += module;
    out += '\n';
    out += name;
    out += '\n';
  }
  void unicode(const std::string& s) {
    op(op::kBinUnicode);
    le(s.size(), 4);
    out += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op(op::kBinInt1);
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      op(op::kBinInt2);
      le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op(op::kBinInt);
      le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      // Shortest little-endian two's complement, as Python's encode_long.
      uint64_t u;
      std::memcpy(&u, &v, sizeof u);
      int n = 8;
      while (n > 1) {
        const auto hi = static_cast<unsigned char>((u >> (8 * (n - 1))) & 0xff);
        const auto next_sign = static_cast<unsigned char>((u >> (8 * (n - 2))) & 0x80);
        if ((hi == 0x00 && next_sign == 0) || (hi == 0xff && next_sign != 0)) {
          --n;
        } else {
          break;
        }
      }
      op(op::kLong1);
      le(static_cast<uint64_t>(n), 1);
      le(u, n);
    }
  }
  void int_tuple(const std::vector<int64_t>& v) {
    if (v.empty()) {
      op(op::kEmptyTuple);
      return;
    }
    if (v.size() > 3) op(op::kMark);
    for (int64_t x : v) integer(x);
    static const unsigned char kSmall[] = {0, op::kTuple1, op::kTuple2, op::kTuple3};
    op(v.size() > 3 ? op::kTuple : kSmall[v.size()]);
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(op::kEmptyTuple);
    op(op::kReduce);
  }
};

}  // namespace

std::string pickle_tensor_dict(const std::vector<PickledTensor>& tensors) {
  Writer w;
  w.op(op::kProto);
  w.le(2, 1);
  w.empty_ordered_dict();
  if (!tensors.empty()) w.op(op::kMark);
  for (const PickledTensor& t : tensors) {
    const char* type = storage_type_name(t.dtype);
    if (type == nullptr) {
      throw internal_error("pickle_tensor_dict: no storage type for tensor '" + t.name + "'");
    }
    w.unicode(t.name);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op(op::kMark);  // arguments
    w.op(op::kMark);  // persistent id
    w.unicode("storage");
    w.global("torch", type);
    w.unicode(t.storage_key);
    w.unicode("cpu");
    w.integer(t.numel);
    w.op(op::kTuple);
    w.op(op::kBinPersId);
    w.integer(0);  // storage offset
    w.int_tuple(t.size);
    w.int_tuple(t.stride);
    w.op(op::kNewFalse);     // requires_grad
    w.empty_ordered_dict();  // backward hooks
    w.op(op::kTuple);
    w.op(op::kReduce);
  }
  if (!tensors.empty()) w.op(op::kSetItems);
  w.op(op::kStop);
  return std::move(w.out);
}

}  // namespace pickle
}  // namespace zoo
