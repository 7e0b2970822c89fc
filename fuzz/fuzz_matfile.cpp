// libFuzzer harness for the MAT-file reader (data/matfile.h read_mat, with the default
// MatLimits) and its consumer, the ImageNet devkit's meta.mat parser (data/imagenet_devkit.h
// parse_imagenet_meta). The input is a MAT-file's bytes. Every array read is walked with the
// accessors callers use (describe, text, scalar, field, cell); their errors must be zoo errors.
#include "common/error.h"
#include "data/imagenet_devkit.h"
#include "data/matfile.h"
#include "fuzz/fuzz_util.h"

#include <vector>

namespace {

void walk(const zoo::MatArray& a, int depth, size_t& budget) {
  if (depth > 40 || budget == 0) return;
  --budget;
  ZOO_FUZZ_CHECK(a.dims.size() >= 2, "an array has two dimensions or more");
  (void)a.describe();
  (void)zoo::mat_class_name(a.mat_class);
  const int64_t n = a.count();
  ZOO_FUZZ_CHECK(n >= 0, "an element count is not negative");
  switch (a.kind) {
    case zoo::MatArray::Kind::kNumeric:
      ZOO_FUZZ_CHECK(a.numbers.size() == static_cast<size_t>(n), "numbers hold count() values");
      try {
        (void)a.scalar();
      } catch (const zoo::Error&) {
      }
      break;
    case zoo::MatArray::Kind::kChar:
      try {
        (void)a.text();
      } catch (const zoo::Error&) {
      }
      break;
    case zoo::MatArray::Kind::kStruct:
      ZOO_FUZZ_CHECK(a.elements.size() == static_cast<size_t>(n) * a.field_names.size(),
                     "a struct holds count() x fields arrays");
      for (int64_t e = 0; !a.field_names.empty() && e < n && budget > 0; ++e) {
        for (const auto& f : a.field_names) {
          ZOO_FUZZ_CHECK(a.field_index(f) >= 0, "a struct finds its own fields");
          walk(a.field(e, f), depth + 1, budget);
        }
      }
      try {
        (void)a.field(n, a.field_names.empty() ? "x" : a.field_names[0]);
      } catch (const zoo::Error&) {
      }
      break;
    case zoo::MatArray::Kind::kCell:
      ZOO_FUZZ_CHECK(a.elements.size() == static_cast<size_t>(n), "a cell holds count() arrays");
      for (int64_t i = 0; i < n && budget > 0; ++i) walk(a.cell(i), depth + 1, budget);
      try {
        (void)a.cell(n);
      } catch (const zoo::Error&) {
      }
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  try {
    const auto vars = zoo::read_mat(bytes, "fuzz.mat");
    size_t budget = 200000;
    for (const auto& [name, array] : vars) {
      ZOO_FUZZ_CHECK(!name.empty(), "variables have names");
      walk(array, 0, budget);
    }
    if (vars.count("synsets")) {
      const auto leaves = zoo::parse_imagenet_meta(bytes, "fuzz.mat");
      std::vector<int64_t> ids;
      for (const auto& leaf : leaves) ids.push_back(leaf.id);
      (void)zoo::ground_truth_wnids(leaves, ids, "fuzz ground truth");
    }
  } catch (const zoo::Error&) {
  }
  try {
    (void)zoo::parse_ground_truth(std::string(bytes.begin(), bytes.end()), "fuzz ground truth");
  } catch (const zoo::Error&) {
  }
  return 0;
}
