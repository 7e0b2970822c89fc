// libFuzzer harness straight on zoo's weights-only unpickler (weights/pickle.h Unpickler): the
// input is a pickle stream (a data.pkl, or the pickles of a legacy .pth back to back). Every
// pickle in it is loaded until the first error or the end; the objects are walked.
#include "common/error.h"
#include "fuzz/fuzz_util.h"
#include "weights/pickle.h"

namespace {

// Visits every object reachable from `o` (bounded: shared objects are visited once per path,
// so the walk is cut at a depth and a count).
void walk(const zoo::pickle::Object* o, int depth, size_t& budget) {
  using zoo::pickle::Kind;
  if (o == nullptr || depth > 64 || budget == 0) return;
  --budget;
  ZOO_FUZZ_CHECK(zoo::pickle::kind_name(o->kind) != nullptr, "every object has a kind");
  switch (o->kind) {
    case Kind::kTuple:
    case Kind::kList:
      for (const auto* item : o->items) walk(item, depth + 1, budget);
      break;
    case Kind::kDict:
      for (const auto& kv : o->entries) {
        walk(kv.first, depth + 1, budget);
        walk(kv.second, depth + 1, budget);
        if (kv.first != nullptr && kv.first->kind == Kind::kStr) {
          ZOO_FUZZ_CHECK(o->get(kv.first->text) != nullptr, "a dict finds its own str keys");
        }
      }
      break;
    case Kind::kStorage:
      ZOO_FUZZ_CHECK(o->storage != nullptr, "a storage object has its reference");
      ZOO_FUZZ_CHECK(o->storage->numel >= 0 && o->storage->view_offset >= 0 &&
                         o->storage->view_offset + o->storage->view_numel <= o->storage->numel,
                     "a storage view lies inside its storage");
      break;
    case Kind::kTensor:
      ZOO_FUZZ_CHECK(o->tensor != nullptr && o->tensor->storage != nullptr,
                     "a tensor object has its storage");
      ZOO_FUZZ_CHECK(o->tensor->size.size() == o->tensor->stride.size(),
                     "a tensor has one stride per size");
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zoo::pickle::Unpickler unpickler(reinterpret_cast<const char*>(data), size, "fuzz.pkl");
  size_t pos = 0;
  try {
    while (pos < size) {
      const size_t before = pos;
      const zoo::pickle::Object* o = unpickler.load(pos);
      ZOO_FUZZ_CHECK(pos > before && pos <= size, "load advances inside the buffer");
      size_t budget = 100000;
      walk(o, 0, budget);
    }
  } catch (const zoo::Error&) {
  }
  for (const auto* s : unpickler.storages()) ZOO_FUZZ_CHECK(s != nullptr, "storages are listed");
  return 0;
}
