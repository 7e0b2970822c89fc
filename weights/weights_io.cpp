// .pth (zip and legacy) and .safetensors reading and writing; see weights_io.h.
#include "weights/weights_io.h"

#include "common/checksum.h"

#include "common/error.h"
#include "common/atomic_file.h"
#include "weights/pickle.h"

#include <ATen/ATen.h>
#include <c10/core/Storage.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <unordered_map>

#include <sys/stat.h>

namespace zoo {

namespace {

using pickle::Kind;
using pickle::Object;

constexpr const char* kPthHint =
    "HINT: the file is damaged or is not a torch.save file; download or save it again";

// Throws missing_error / io_error unless `path` is an existing, readable regular file; returns
// its size.
uint64_t check_input_file(const std::string& path, const char* what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      throw missing_error(std::string(what) + " not found: " + path +
                          "; HINT: check the path (relative paths start at the current "
                          "directory)");
    }
    throw io_error("cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno) +
                   "; HINT: check its permissions");
  }
  if (S_ISDIR(st.st_mode)) {
    throw missing_error(std::string(what) + " " + path +
                        " is a directory, expected a file; HINT: name the file inside it");
  }
  std::ifstream probe(path, std::ios::binary);
  if (!probe) {
    throw io_error("cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno) +
                   "; HINT: check its permissions");
  }
  return static_cast<uint64_t>(st.st_size);
}

std::string first_line(const char* text) {
  std::string s(text);
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

std::string hex_prefix(const std::string& bytes) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (i) s += ' ';
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string read_prefix(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string buf(n, '\0');
  in.read(&buf[0], static_cast<std::streamsize>(n));
  buf.resize(static_cast<size_t>(in.gcount()));
  return buf;
}

bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// ---------------------------------------------------------------------------------------------
// .pth: from unpickled objects to a StateDict

// The dict of tensors inside the top-level object: the object itself, or a checkpoint's
// "state_dict" / "model_state_dict" / "model" entry.
const Object* select_state_dict(const Object* top, const std::string& path) {
  if (top->kind != Kind::kDict) {
    throw data_error("no state dict in " + path + ": the file holds a " +
                     pickle::kind_name(top->kind) +
                     ", expected a dict of tensors; HINT: save model.state_dict(), not the "
                     "model or a list");
  }
  auto all_tensors = [](const Object* d) {
    for (const auto& kv : d->entries) {
      if (kv.second->kind != Kind::kTensor) return false;
    }
    return true;
  };
  if (all_tensors(top)) return top;
  for (const char* wrapper : {"state_dict", "model_state_dict", "model"}) {
    const Object* inner = top->get(wrapper);
    if (inner != nullptr && inner->kind == Kind::kDict && !inner->entries.empty() &&
        all_tensors(inner)) {
      return inner;
    }
  }
  std::string example;
  for (const auto& kv : top->entries) {
    if (kv.second->kind != Kind::kTensor) {
      example = (kv.first->kind == Kind::kStr ? "'" + pickle::printable(kv.first->text) + "'"
                                              : std::string("a key")) +
                " is a " + pickle::kind_name(kv.second->kind);
      break;
    }
  }
  throw data_error("no state dict in " + path + ": the top-level dict is not all tensors (" +
                   example +
                   ") and has no 'state_dict', 'model_state_dict' or 'model' entry of tensors; "
                   "HINT: save model.state_dict() with torch.save");
}

// The storages behind the selected tensors, as flat 1-D tensors of their dtype.
using StorageMap = std::unordered_map<std::string, at::Tensor>;

StateDict build_state_dict(const Object* dict, const StorageMap& storages,
                           const std::string& path) {
  // How many tensors use each storage: a storage used once, whole and contiguous, is returned
  // as is instead of copied.
  std::unordered_map<std::string, int> uses;
  for (const auto& kv : dict->entries) uses[kv.second->tensor->storage->key]++;

  StateDict sd;
  sd.reserve(dict->entries.size());
  for (const auto& kv : dict->entries) {
    if (kv.first->kind != Kind::kStr) {
      throw data_error("bad state dict in " + path + ": a key is a " +
                       pickle::kind_name(kv.first->kind) + ", expected a str; " + kPthHint);
    }
    const std::string& name = kv.first->text;
    const pickle::TensorRef& ref = *kv.second->tensor;
    const pickle::StorageRef& sref = *ref.storage;
    const at::Tensor& flat = storages.at(sref.key);
    if (flat.scalar_type() != sref.dtype) {
      throw data_error("bad state dict in " + path + ": storage '" + pickle::printable(sref.key) +
                       "' is used as both " + c10::toString(flat.scalar_type()) + " and " +
                       c10::toString(sref.dtype) + "; " + kPthHint);
    }
    if (flat.numel() < sref.view_offset + sref.view_numel) {
      throw data_error("truncated storage in " + path + ": '" + pickle::printable(name) +
                       "' needs " + std::to_string(sref.view_offset + sref.view_numel) +
                       " elements of storage '" + pickle::printable(sref.key) + "', found " +
                       std::to_string(flat.numel()) + "; " + kPthHint);
    }
    at::Tensor view = flat.as_strided(ref.size, ref.stride, sref.view_offset + ref.offset);
    const bool whole = view.is_contiguous() && view.numel() == flat.numel();
    at::Tensor t = whole && uses[sref.key] == 1 ? view : view.clone(at::MemoryFormat::Contiguous);
    sd.emplace_back(name, std::move(t));
  }
  return sd;
}

// Every distinct storage behind the selected tensors.
std::vector<const pickle::StorageRef*> storages_of(const Object* dict) {
  std::vector<const pickle::StorageRef*> out;
  std::set<std::string> seen;
  for (const auto& kv : dict->entries) {
    const pickle::StorageRef& s = *kv.second->tensor->storage;
    if (seen.insert(s.key).second) out.push_back(&s);
  }
  return out;
}

// A flat tensor over a zip record, sharing its memory.
at::Tensor storage_tensor(at::DataPtr data, size_t nbytes, const pickle::StorageRef& s,
                          const std::string& path) {
  int64_t need = 0;
  const auto elem = static_cast<int64_t>(c10::elementSize(s.dtype));
  if (!checked_mul(s.numel, elem, &need) || static_cast<uint64_t>(need) > nbytes) {
    throw data_error("truncated storage in " + path + ": record data/" + pickle::printable(s.key) +
                     " has " + std::to_string(nbytes) + " bytes, expected " +
                     std::to_string(s.numel) + " x " + std::to_string(elem) + "; " + kPthHint);
  }
  c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(data), nullptr, false);
  at::Tensor flat = at::empty({0}, at::TensorOptions().dtype(s.dtype));
  flat.set_(storage, 0, {s.numel}, {1});
  return flat;
}

}  // namespace

// PyTorchStreamReader allocates each record at the size the zip declares before inflating
// it, so a small deflated "zip bomb" could claim gigabytes. torch.save stores records
// uncompressed; refuse any entry that declares far more bytes than the file could hold. Reads
// only the central directory (zip64 included); a zip too odd to parse here is left to
// PyTorchStreamReader, which rejects it.
void check_zip_sizes(const std::string& path, uint64_t file_size) {
  std::ifstream in(path, std::ios::binary);
  auto read_at = [&](uint64_t offset, uint64_t n, std::string* out) {
    if (offset > file_size || n > file_size - offset) return false;
    out->assign(static_cast<size_t>(n), '\0');
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(&(*out)[0], static_cast<std::streamsize>(n));
    return static_cast<uint64_t>(in.gcount()) == n;
  };
  auto le = [](const std::string& b, size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
    return v;
  };
  const uint64_t tail_size = std::min<uint64_t>(file_size, 22 + 65535);
  std::string tail;
  if (tail_size < 22 || !read_at(file_size - tail_size, tail_size, &tail)) return;
  size_t eocd = std::string::npos;
  for (size_t i = tail.size() - 22 + 1; i-- > 0;) {
    if (le(tail, i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) return;
  uint64_t entries = le(tail, eocd + 10, 2);
  uint64_t cd_size = le(tail, eocd + 12, 4);
  uint64_t cd_offset = le(tail, eocd + 16, 4);
  if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    if (eocd < 20 || le(tail, eocd - 20, 4) != 0x07064b50) return;
    std::string z64;
    if (!read_at(le(tail, eocd - 20 + 8, 8), 56, &z64) || le(z64, 0, 4) != 0x06064b50) return;
    entries = le(z64, 32, 8);
    cd_size = le(z64, 40, 8);
    cd_offset = le(z64, 48, 8);
  }
  std::string cd;
  if (!read_at(cd_offset, cd_size, &cd)) return;
  const uint64_t limit = 64 * file_size + (uint64_t{1} << 20);
  size_t at = 0;
  for (uint64_t e = 0; e < entries && at + 46 <= cd.size(); ++e) {
    if (le(cd, at, 4) != 0x02014b50) return;
    uint64_t comp = le(cd, at + 20, 4);
    uint64_t uncomp = le(cd, at + 24, 4);
    const size_t name_len = le(cd, at + 28, 2);
    const size_t extra_len = le(cd, at + 30, 2);
    const size_t comment_len = le(cd, at + 32, 2);
    if (at + 46 + name_len + extra_len > cd.size()) return;
    const std::string name = cd.substr(at + 46, name_len);
    // zip64 extra field: the 64-bit sizes of the fields that are saturated, in order.
    for (size_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      const uint64_t id = le(cd, x, 2);
      const size_t len = le(cd, x + 2, 2);
      if (x + 4 + len > cd.size()) break;
      if (id == 0x0001) {
        size_t f = x + 4;
        if (uncomp == 0xffffffff && f + 8 <= x + 4 + len) {
          uncomp = le(cd, f, 8);
          f += 8;
        }
        if (comp == 0xffffffff && f + 8 <= x + 4 + len) comp = le(cd, f, 8);
      }
      x += 4 + len;
    }
    if (uncomp > limit) {
      throw data_error("suspicious zip in " + path + ": entry " + pickle::printable(name) +
                       " claims " + std::to_string(uncomp) + " bytes uncompressed from " +
                       std::to_string(comp) + " in a " + std::to_string(file_size) +
                       "-byte file; torch.save stores records uncompressed; " + kPthHint);
    }
    at += 46 + name_len + extra_len + comment_len;
  }
}

namespace {

StateDict read_pth_zip(const std::string& path, uint64_t file_size) {
  check_zip_sizes(path, file_size);
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (!reader.hasRecord("data.pkl")) {
      const bool script = reader.hasRecord("constants.pkl") || reader.hasRecord("code/");
      throw data_error(
          "no data.pkl in " + path + ": the zip is not a torch.save file; " +
          (script ? "HINT: this looks like a TorchScript archive (torch.jit.save); save its "
                    "state_dict() with torch.save instead"
                  : kPthHint));
    }
    if (reader.hasRecord("byteorder")) {  // written by torch >= 2.1
      at::DataPtr order;
      size_t order_size = 0;
      std::tie(order, order_size) = reader.getRecord("byteorder");
      const std::string byteorder(static_cast<const char*>(order.get()), order_size);
      if (byteorder != "little") {
        throw data_error("unsupported PyTorch file " + path + ": byte order '" +
                         pickle::printable(byteorder) +
                         "', zoo reads little-endian files; HINT: re-save it on a "
                         "little-endian machine");
      }
    }
    at::DataPtr pkl;
    size_t pkl_size = 0;
    std::tie(pkl, pkl_size) = reader.getRecord("data.pkl");
    pickle::Unpickler unpickler(static_cast<const char*>(pkl.get()), pkl_size,
                                path + " (data.pkl)");
    size_t pos = 0;
    const Object* dict = select_state_dict(unpickler.load(pos), path);

    StorageMap storages;
    for (const pickle::StorageRef* s : storages_of(dict)) {
      const std::string record = "data/" + s->key;
      if (!reader.hasRecord(record)) {
        throw data_error("missing record in " + path + ": storage '" + pickle::printable(s->key) +
                         "' has no " + pickle::printable(record) + " entry; " + kPthHint);
      }
      at::DataPtr data;
      size_t nbytes = 0;
      std::tie(data, nbytes) = reader.getRecord(record);
      storages.emplace(s->key, storage_tensor(std::move(data), nbytes, *s, path));
    }
    return build_state_dict(dict, storages, path);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw data_error("cannot read " + path + " as a PyTorch zip archive: " +
                     first_line(e.what_without_backtrace()) + "; " + kPthHint);
  } catch (const std::bad_alloc&) {
    throw data_error("cannot read " + path +
                     ": a record is larger than available memory (corrupt sizes?); " + kPthHint);
  } catch (const std::exception& e) {
    throw data_error("cannot read " + path + " as a PyTorch zip archive: " + first_line(e.what()) +
                     "; " + kPthHint);
  }
}

// Legacy format (torch < 1.6 or _use_new_zipfile_serialization=False): pickles of the magic
// number, the protocol version and sys_info, then the object, then the list of storage keys,
// then each storage as an int64 element count followed by its bytes.
const unsigned char kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocol = 1001;

bool looks_legacy(const std::string& prefix) {
  // PROTO 2, LONG1 10 <magic>.
  return prefix.size() >= 14 && static_cast<unsigned char>(prefix[0]) == 0x80 &&
         static_cast<unsigned char>(prefix[2]) == 0x8a && prefix[3] == 10 &&
         std::memcmp(prefix.data() + 4, kLegacyMagic, sizeof kLegacyMagic) == 0;
}

StateDict read_pth_legacy(const std::string& path, uint64_t file_size) {
  std::string buf;
  try {
    buf.resize(file_size);
  } catch (const std::bad_alloc&) {
    throw io_error("cannot read " + path + ": not enough memory for " + std::to_string(file_size) +
                   " bytes; HINT: free memory or convert the file");
  }
  {
    std::ifstream in(path, std::ios::binary);
    in.read(&buf[0], static_cast<std::streamsize>(file_size));
    if (static_cast<uint64_t>(in.gcount()) != file_size) {
      throw io_error("cannot read " + path + ": short read; HINT: check the disk and the file");
    }
  }
  pickle::Unpickler unpickler(buf.data(), buf.size(), path);
  size_t pos = 0;
  unpickler.load(pos);  // magic number (checked by looks_legacy)
  const Object* protocol = unpickler.load(pos);
  if (protocol->kind != Kind::kInt || protocol->integer != kLegacyProtocol) {
    throw data_error("unsupported legacy PyTorch file " + path + ": protocol " +
                     (protocol->kind == Kind::kInt ? std::to_string(protocol->integer) : "?") +
                     ", expected 1001; HINT: re-save it with a current torch.save");
  }
  const Object* sys_info = unpickler.load(pos);
  if (sys_info->kind == Kind::kDict) {
    const Object* le = sys_info->get("little_endian");
    if (le != nullptr && le->kind == Kind::kBool && !le->boolean) {
      throw data_error("unsupported legacy PyTorch file " + path +
                       ": written on a big-endian machine; HINT: re-save it on a little-endian "
                       "one");
    }
  }
  const Object* dict = select_state_dict(unpickler.load(pos), path);
  const Object* keys = unpickler.load(pos);
  if (keys->kind != Kind::kList) {
    throw data_error("corrupt legacy PyTorch file " + path + ": the storage key list is a " +
                     pickle::kind_name(keys->kind) + "; " + kPthHint);
  }
  std::unordered_map<std::string, c10::ScalarType> dtypes;  // every storage in the file
  for (const pickle::StorageRef* s : unpickler.storages()) dtypes.emplace(s->key, s->dtype);
  std::set<std::string> wanted;  // the storages behind the state dict
  for (const pickle::StorageRef* s : storages_of(dict)) wanted.insert(s->key);

  StorageMap storages;
  for (const Object* key : keys->items) {
    if (storages.size() == wanted.size()) break;  // the rest is not needed
    if (key->kind != Kind::kStr && key->kind != Kind::kBytes) {
      throw data_error("corrupt legacy PyTorch file " + path + ": a storage key is not a string; " +
                       kPthHint);
    }
    if (buf.size() - pos < 8) {
      throw data_error("truncated legacy PyTorch file " + path + ": storage '" +
                       pickle::printable(key->text) + "' is missing; " + kPthHint);
    }
    uint64_t numel = 0;
    for (int i = 0; i < 8; ++i) {
      numel |= static_cast<uint64_t>(static_cast<unsigned char>(buf[pos + i])) << (8 * i);
    }
    pos += 8;
    const auto it = dtypes.find(key->text);
    if (it == dtypes.end()) {
      throw data_error("corrupt legacy PyTorch file " + path + ": storage '" +
                       pickle::printable(key->text) + "' is listed but never referenced; " +
                       kPthHint);
    }
    const auto elem = static_cast<uint64_t>(c10::elementSize(it->second));
    if (numel > (buf.size() - pos) / elem) {
      throw data_error("truncated legacy PyTorch file " + path + ": storage '" +
                       pickle::printable(key->text) + "' needs " + std::to_string(numel) + " x " +
                       std::to_string(elem) + " bytes, " + std::to_string(buf.size() - pos) +
                       " left; " + kPthHint);
    }
    if (wanted.count(key->text) && !storages.count(key->text)) {
      at::Tensor flat =
          at::empty({static_cast<int64_t>(numel)}, at::TensorOptions().dtype(it->second));
      if (numel > 0) std::memcpy(flat.data_ptr(), buf.data() + pos, numel * elem);
      storages.emplace(key->text, std::move(flat));
    }
    pos += numel * elem;
  }
  for (const auto& key : wanted) {
    if (!storages.count(key)) {
      throw data_error("corrupt legacy PyTorch file " + path + ": storage '" +
                       pickle::printable(key) + "' is never written; " + kPthHint);
    }
  }
  return build_state_dict(dict, storages, path);
}

// ---------------------------------------------------------------------------------------------
// safetensors

struct SafetensorsType {
  const char* name;
  c10::ScalarType dtype;
};

const SafetensorsType kSafetensorsTypes[] = {
    {"F64", c10::ScalarType::Double}, {"F32", c10::ScalarType::Float},
    {"F16", c10::ScalarType::Half},   {"BF16", c10::ScalarType::BFloat16},
    {"I64", c10::ScalarType::Long},   {"I32", c10::ScalarType::Int},
    {"I16", c10::ScalarType::Short},  {"I8", c10::ScalarType::Char},
    {"U8", c10::ScalarType::Byte},    {"BOOL", c10::ScalarType::Bool},
};

constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;  // as the reference implementation

std::string safetensors_type_list() {
  std::string s;
  for (const auto& t : kSafetensorsTypes) s += std::string(s.empty() ? "" : " ") + t.name;
  return s;
}

struct SafetensorsEntry {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
  size_t order = 0;  // position in the header
};

}  // namespace

StateDict read_pth(const std::string& path) {
  const uint64_t size = check_input_file(path, "weights file");
  if (size == 0) {
    throw data_error("empty weights file " + path + ": expected a torch.save zip archive; " +
                     kPthHint);
  }
  const std::string prefix = read_prefix(path, 16);
  if (prefix.size() >= 2 && prefix[0] == 'P' && prefix[1] == 'K') return read_pth_zip(path, size);
  if (looks_legacy(prefix)) return read_pth_legacy(path, size);
  std::string hint = kPthHint;
  if (prefix.size() > 8 && prefix[8] == '{') {
    hint = "HINT: this looks like a safetensors file; name it *.safetensors";
  }
  throw data_error("not a PyTorch weights file: " + path +
                   ": expected a zip archive from torch.save (starting with 'PK') or the "
                   "legacy pickle format, found bytes " +
                   hex_prefix(prefix) + "; " + hint);
}

void write_pth(const std::string& path, const StateDict& sd) {
  std::vector<pickle::PickledTensor> meta;
  std::set<std::string> names;
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& name = sd[i].first;
    const auto& t = sd[i].second;
    if (!t.defined()) throw internal_error("write_pth: tensor '" + name + "' is undefined");
    if (!names.insert(name).second) {
      throw internal_error("write_pth: key '" + name + "' appears twice in the state dict");
    }
    if (pickle::storage_type_name(t.scalar_type()) == nullptr || t.is_quantized() ||
        t.is_sparse()) {
      throw usage_error("cannot write '" + name + "' to " + path + ": tensors of type " +
                        std::string(c10::toString(t.scalar_type())) +
                        " are not supported in .pth; HINT: convert the model to "
                        "a float dtype first");
    }
    pickle::PickledTensor p;
    p.name = name;
    p.dtype = t.scalar_type();
    p.storage_key = std::to_string(i);
    p.numel = t.numel();
    p.size = t.sizes().vec();
    p.stride.assign(p.size.size(), 1);
    for (size_t d = p.size.size(); d > 1; --d) {
      p.stride[d - 2] = p.stride[d - 1] * std::max<int64_t>(p.size[d - 1], 1);
    }
    meta.push_back(std::move(p));
  }
  const std::string pkl = pickle::pickle_tensor_dict(meta);

  AtomicFile file(path);
  // The stream writer calls this from inside miniz: never throw through it; keep the first
  // error and rethrow it after the archive is closed.
  std::unique_ptr<Error> failure;
  auto sink = [&](const void* data, size_t n) -> size_t {
    if (failure) return n;
    try {
      file.write(data, n);
    } catch (const Error& e) {
      failure = std::make_unique<Error>(e);
    }
    return n;
  };
  try {
    caffe2::serialize::PyTorchStreamWriter writer(sink);
    writer.writeRecord("data.pkl", pkl.data(), pkl.size());
    const std::string byteorder = "little";
    writer.writeRecord("byteorder", byteorder.data(), byteorder.size());
    for (size_t i = 0; i < sd.size() && !failure; ++i) {
      const at::Tensor t =
          sd[i].second.detach().to(at::kCPU).resolve_conj().resolve_neg().contiguous();
      writer.writeRecord("data/" + meta[i].storage_key, t.data_ptr(), t.nbytes());
    }
    writer.writeEndOfFile();
  } catch (const c10::Error& e) {
    if (!failure) {
      throw io_error("cannot write " + path + ": " + first_line(e.what_without_backtrace()) +
                     "; the previous file, if any, is unchanged; HINT: check the disk");
    }
  }
  if (failure) throw *failure;
  file.commit();
}

namespace {

// The checksums zoo wrote in "__metadata__" (JSON text: algorithm and one per tensor) against
// the tensors read; every tensor must have one and match it.
void check_safetensors_checksums(const std::string& path, const std::string& text, const StateDict& sd) {
  auto damaged = [&](const std::string& what) {
    return data_error("safetensors file " + path + " is damaged: " + what +
                      "; HINT: the file changed after zoo wrote it: copy or convert it again");
  };
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("tensors") || !json["tensors"].is_object()) {
    throw damaged("its " + std::string(kSafetensorsChecksumKey) + " metadata is not zoo's checksum list");
  }
  if (json.value("algorithm", "") != kChecksumAlgorithm) {
    throw data_error("safetensors file " + path + " uses the checksum '" + pickle::printable(json.value("algorithm", "")) +
                     "', this zoo knows " + kChecksumAlgorithm + "; HINT: use a newer zoo");
  }
  const nlohmann::json& sums = json["tensors"];
  if (sums.size() != sd.size()) {
    throw damaged("it lists checksums of " + std::to_string(sums.size()) + " tensors and holds " +
                  std::to_string(sd.size()));
  }
  for (const auto& [name, t] : sd) {
    const auto it = sums.find(name);
    if (it == sums.end() || !it->is_string()) throw damaged("tensor '" + pickle::printable(name) + "' has no checksum");
    if (it->get<std::string>() != tensor_checksum(t)) {
      throw damaged("tensor '" + pickle::printable(name) + "' does not match its checksum");
    }
  }
}

}  // namespace

StateDict read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const uint64_t size = check_input_file(path, "weights file");
  const std::string hint =
      read_prefix(path, 2) == "PK"
          ? "HINT: this looks like a PyTorch zip (torch.save); name it *.pth"
          : "HINT: the file is damaged or not a safetensors file; download or save it again";
  std::ifstream in(path, std::ios::binary);
  if (size < 8) {
    throw data_error("truncated safetensors file " + path + ": " + std::to_string(size) +
                     " bytes, expected an 8-byte header length and a JSON header; " + hint);
  }
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len_bytes[i]) << (8 * i);
  if (header_len > size - 8 || header_len > kMaxSafetensorsHeader) {
    throw data_error("bad safetensors file " + path + ": header length " +
                     std::to_string(header_len) + " exceeds the file (" + std::to_string(size) +
                     " bytes) or the 100 MB limit; " + hint);
  }
  std::string header(header_len, '\0');
  in.read(&header[0], static_cast<std::streamsize>(header_len));
  if (static_cast<uint64_t>(in.gcount()) != header_len) {
    throw io_error("cannot read " + path + ": short read of the header; HINT: check the disk");
  }
  const auto json = nlohmann::ordered_json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    throw data_error("bad safetensors file " + path + ": the header is not a JSON object; " + hint);
  }
  const uint64_t buffer_size = size - 8 - header_len;
  std::vector<SafetensorsEntry> entries;
  std::optional<std::string> checksums;  // the JSON zoo wrote under kSafetensorsChecksumKey
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::ordered_json& info = it.value();
    if (name == "__metadata__") {
      if (!info.is_object()) {
        throw data_error("bad safetensors file " + path + ": __metadata__ is not an object; " +
                         hint);
      }
      for (auto m = info.begin(); m != info.end(); ++m) {
        if (!m.value().is_string()) {
          throw data_error("bad safetensors file " + path + ": __metadata__ value '" +
                           pickle::printable(m.key()) + "' is not a string; " + hint);
        }
        if (m.key() == kSafetensorsChecksumKey) checksums = m.value().get<std::string>();
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) {
      return data_error("bad safetensors file " + path + ": tensor '" + pickle::printable(name) +
                        "' " + what + "; " + hint);
    };
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") ||
        !info.contains("data_offsets")) {
      throw bad("lacks dtype, shape or data_offsets");
    }
    const nlohmann::ordered_json& dtype = info["dtype"];
    const nlohmann::ordered_json& shape = info["shape"];
    const nlohmann::ordered_json& offsets = info["data_offsets"];
    SafetensorsEntry e;
    e.name = name;
    e.order = entries.size();
    const SafetensorsType* type = nullptr;
    if (dtype.is_string()) {
      for (const auto& t : kSafetensorsTypes) {
        if (dtype.get<std::string>() == t.name) type = &t;
      }
    }
    if (type == nullptr) {
      throw bad("has dtype " + pickle::printable(dtype.dump()) + ", expected one of " +
                safetensors_type_list());
    }
    e.dtype = type->dtype;
    if (!shape.is_array() || shape.size() > pickle::kMaxDims) {
      throw bad("has a shape that is not a list of at most " + std::to_string(pickle::kMaxDims) +
                " sizes");
    }
    int64_t nbytes = static_cast<int64_t>(c10::elementSize(e.dtype));
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        throw bad("has a shape entry " + pickle::printable(d.dump()) +
                  ", expected a non-negative integer");
      }
      e.shape.push_back(d.get<int64_t>());
      if (!checked_mul(nbytes, e.shape.back(), &nbytes)) throw bad("has a shape that overflows");
    }
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      throw bad("has data_offsets " + pickle::printable(offsets.dump()) +
                ", expected [begin, end]");
    }
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end || e.end > buffer_size) {
      throw bad("has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] outside the " + std::to_string(buffer_size) + "-byte data buffer");
    }
    if (e.end - e.begin != static_cast<uint64_t>(nbytes)) {
      throw bad("has " + std::to_string(e.end - e.begin) + " bytes, its dtype and shape need " +
                std::to_string(nbytes));
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.order < b.order;
  });
  uint64_t covered = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const auto& e : entries) {
    if (e.begin == e.end) continue;
    if (e.begin < covered) {
      throw data_error("bad safetensors file " + path + ": tensors '" +
                       pickle::printable(previous->name) + "' and '" + pickle::printable(e.name) +
                       "' overlap in the data buffer; " + hint);
    }
    covered = e.end;
    previous = &e;
  }
  StateDict sd;
  sd.reserve(entries.size());
  for (const auto& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    if (e.end > e.begin) {
      in.seekg(static_cast<std::streamoff>(8 + header_len + e.begin));
      in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
      if (!in || static_cast<uint64_t>(in.gcount()) != e.end - e.begin) {
        throw io_error("cannot read " + path + ": short read of tensor '" +
                       pickle::printable(e.name) + "'; HINT: check the disk and the file");
      }
    }
    sd.emplace_back(e.name, std::move(t));
  }
  if (checksums) check_safetensors_checksums(path, *checksums, sd);
  return sd;
}

void write_safetensors(const std::string& path, const StateDict& sd,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = nlohmann::ordered_json::object();
  for (const auto& kv : metadata) header["__metadata__"][kv.first] = kv.second;
  nlohmann::json sums = nlohmann::json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& kv : sd) {
    const auto& name = kv.first;
    const auto& t = kv.second;
    if (!t.defined()) throw internal_error("write_safetensors: tensor '" + name + "' is undefined");
    if (name == "__metadata__" || !names.insert(name).second) {
      throw internal_error("write_safetensors: key '" + name + "' is reserved or appears twice");
    }
    const SafetensorsType* type = nullptr;
    for (const auto& st : kSafetensorsTypes) {
      if (st.dtype == t.scalar_type()) type = &st;
    }
    if (type == nullptr || t.is_quantized() || t.is_sparse()) {
      throw usage_error("cannot write '" + name + "' to " + path + ": tensors of type " +
                        std::string(c10::toString(t.scalar_type())) +
                        " have no safetensors dtype (supported: " + safetensors_type_list() +
                        "); HINT: convert the model first");
    }
    const auto nbytes = static_cast<uint64_t>(t.numel()) * c10::elementSize(t.scalar_type());
    header[name] = {{"dtype", type->name},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    sums[name] = tensor_checksum(t.detach().to(at::kCPU).resolve_neg());
  }
  try {
    header["__metadata__"][kSafetensorsChecksumKey] =
        nlohmann::json{{"algorithm", kChecksumAlgorithm}, {"tensors", std::move(sums)}}.dump();
  } catch (const nlohmann::json::exception&) {
    throw usage_error("cannot write " + path + ": a tensor name is not valid UTF-8; HINT: rename it");
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    throw usage_error("cannot write " + path +
                      ": a tensor name or metadata value is not valid "
                      "UTF-8; HINT: rename it");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data buffer to 8 bytes

  AtomicFile file(path);
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));
  file.write(len_bytes, 8);
  file.write(text.data(), text.size());
  for (const auto& kv : sd) {
    const at::Tensor t = kv.second.detach().to(at::kCPU).resolve_neg().contiguous();
    if (t.nbytes() > 0) file.write(t.data_ptr(), t.nbytes());
  }
  file.commit();
}

WeightsFormat weights_format_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    ext = path.substr(dot);
  }
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".pt") return WeightsFormat::kZooCheckpoint;
  if (ext == ".pth" || ext == ".bin") return WeightsFormat::kPth;
  if (ext == ".safetensors") return WeightsFormat::kSafetensors;
  throw usage_error("unknown weights format for " + path + ": extension '" + ext +
                    "'; known: .pt (zoo checkpoint), .pth or .bin (PyTorch state dict), "
                    ".safetensors; HINT: rename the file to the extension of its format");
}

const char* weights_format_name(WeightsFormat format) {
  switch (format) {
    case WeightsFormat::kZooCheckpoint: return "zoo checkpoint";
    case WeightsFormat::kPth: return "pth";
    case WeightsFormat::kSafetensors: return "safetensors";
  }
  return "?";
}

namespace {

WeightsFormat interchange_format(const std::string& path) {
  const WeightsFormat format = weights_format_of(path);
  if (format == WeightsFormat::kZooCheckpoint) {
    throw usage_error(path + " is a zoo checkpoint, not a state dict file; HINT: a .pth, .bin or "
                      ".safetensors file is expected here");
  }
  return format;
}

}  // namespace

StateDict read_state_dict(const std::string& path, std::map<std::string, std::string>* metadata) {
  if (interchange_format(path) == WeightsFormat::kPth) return read_pth(path);
  return read_safetensors(path, metadata);
}

void write_state_dict(const std::string& path, const StateDict& sd,
                      const std::map<std::string, std::string>& metadata) {
  if (interchange_format(path) == WeightsFormat::kPth) return write_pth(path, sd);
  write_safetensors(path, sd, metadata);
}

}  // namespace zoo
