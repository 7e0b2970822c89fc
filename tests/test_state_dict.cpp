// State dicts: PyTorch's key order, and the load report (strict refuses, non-strict reports).
#include "common/error.h"
#include "models/registry.h"
#include "weights/state_dict.h"

#include <gtest/gtest.h>

namespace zoo {
namespace {

TEST(StateDict, PyTorchKeyOrder) {
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  std::vector<std::string> keys;
  for (const auto& kv : state_dict_of(*m)) keys.push_back(kv.first);
  const std::vector<std::string> expected = {
      "features.0.weight",   "features.0.bias",   "features.3.weight",   "features.3.bias",
      "classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias",
      "classifier.4.weight", "classifier.4.bias"};
  EXPECT_EQ(keys, expected);
}

TEST(StateDict, StrictLoadCopiesEverything) {
  torch::manual_seed(1);
  Classifier a = build_classifier("lenet5", ModelOptions{10});
  torch::manual_seed(2);
  Classifier b = build_classifier("lenet5", ModelOptions{10});
  auto x = torch::randn({2, 1, 28, 28});
  LoadReport r = load_state_dict(*b, state_dict_of(*a), LoadMode::kStrict, "a");
  EXPECT_TRUE(r.clean());
  EXPECT_EQ(r.matched.size(), 10u);
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
}

TEST(StateDict, MismatchReportedAndStrictRefuses) {
  Classifier ten = build_classifier("lenet5", ModelOptions{10});
  Classifier three = build_classifier("lenet5", ModelOptions{3});
  StateDict sd = state_dict_of(*ten);
  sd.emplace_back("extra.weight", torch::zeros({1}));
  sd.erase(sd.begin());  // features.0.weight missing
  auto before = state_dict_of(*three)[1].second.clone();
  try {
    load_state_dict(*three, sd, LoadMode::kStrict, "file.pth");
    FAIL() << "strict load accepted a mismatched file";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kBadData);
    EXPECT_NE(msg.find("file.pth"), std::string::npos);
    EXPECT_NE(msg.find("classifier.4.weight"), std::string::npos);
    EXPECT_NE(msg.find("extra.weight"), std::string::npos);
    EXPECT_NE(msg.find("features.0.weight"), std::string::npos);
  }
  // Nothing was copied by the refused load.
  EXPECT_TRUE(torch::equal(before, state_dict_of(*three)[1].second));
  LoadReport r = load_state_dict(*three, sd, LoadMode::kNonStrict, "file.pth");
  EXPECT_EQ(r.missing, std::vector<std::string>{"features.0.weight"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"extra.weight"});
  EXPECT_EQ(r.mismatched.size(), 2u);  // classifier.4 weight and bias
  EXPECT_EQ(r.matched.size(), 7u);
  EXPECT_TRUE(torch::equal(state_dict_of(*three)[1].second, state_dict_of(*ten)[1].second));
}

}  // namespace
}  // namespace zoo
