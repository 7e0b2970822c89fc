// LeNet-5: output shapes, the parameter count of the paper's layout, head replacement, and
// that a few SGD steps on real-looking data reduce the loss.
#include "common/error.h"
#include "models/lenet.h"
#include "models/max_pool.h"
#include "models/registry.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/pooling.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

namespace zoo {
namespace {

bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

// zoo's 2x2 max pooling against torch's, bit for bit: output and input gradient, on odd and
// even sizes, with ties (ReLU zeros, rounded values), NaN, -inf and -0.0 gradients, on 1 and 2
// threads; and the cases it leaves to torch.
TEST(MaxPool, TwoByTwoIsBitIdenticalToTorch) {
  torch::manual_seed(3);
  const int threads = at::get_num_threads();
  for (int t : {1, 2}) {
    at::set_num_threads(t);
    for (auto shape : {std::vector<int64_t>{64, 6, 28, 28}, {3, 5, 7, 9}, {2, 1, 2, 3}, {1, 16, 10, 10}}) {
      auto x = torch::randn(shape);
      x = torch::relu(torch::round(x * 2) / 2);  // many ties, zeros among them
      x.view(-1)[0] = NAN;
      x.view(-1)[5] = -INFINITY;
      auto g = torch::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
      g.view(-1)[1] = -0.0f;
      const auto a = x.clone().requires_grad_(true), b = x.clone().requires_grad_(true);
      MaxPool2d pool(torch::nn::MaxPool2dOptions(2));
      const auto ours = pool->forward(a);
      const auto theirs = torch::max_pool2d(b, {2, 2});
      EXPECT_TRUE(same_bits(ours, theirs)) << shape;
      ours.backward(g);
      theirs.backward(g);
      EXPECT_TRUE(same_bits(a.grad(), b.grad())) << shape;
    }
  }
  at::set_num_threads(threads);
  // Other settings and inputs run torch's kernel, with the same result.
  const auto x = torch::randn({2, 3, 9, 9});
  for (const auto& o : {torch::nn::MaxPool2dOptions(3).stride(2), torch::nn::MaxPool2dOptions(2).padding(1),
                        torch::nn::MaxPool2dOptions(2).ceil_mode(true)}) {
    EXPECT_TRUE(same_bits(MaxPool2d(o)->forward(x), torch::nn::MaxPool2d(o)->forward(x)));
  }
  const auto cl = x.contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(same_bits(MaxPool2d(torch::nn::MaxPool2dOptions(2))->forward(cl), torch::max_pool2d(cl, {2, 2})));
  const auto half = x.to(torch::kBFloat16);
  EXPECT_TRUE(same_bits(MaxPool2d(torch::nn::MaxPool2dOptions(2))->forward(half), torch::max_pool2d(half, {2, 2})));
  std::ostringstream printed, torch_printed;
  printed << *MaxPool2d(torch::nn::MaxPool2dOptions(2));
  torch_printed << *torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2));
  EXPECT_EQ(printed.str(), torch_printed.str());
}

TEST(LeNet, ShapesAndParameterCount) {
  for (int64_t size : {28, 32}) {
    ModelOptions o;
    o.num_classes = 10;
    o.input_size = size;
    Classifier m = build_classifier("lenet5", o);
    // conv1 1*6*25+6 + conv2 6*16*25+16 + fc 400*120+120 + 120*84+84 + 84*10+10
    EXPECT_EQ(count_parameters(*m), 156 + 2416 + 48120 + 10164 + 850);
    EXPECT_EQ(count_parameters(*m), 61706);
    auto y = m->forward(torch::randn({3, 1, size, size}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 10}));
    EXPECT_EQ(m->features(torch::randn({2, 1, size, size})).sizes(), (std::vector<int64_t>{2, 84}));
  }
}

TEST(LeNet, RejectsOtherInputSizes) {
  ModelOptions o;
  o.input_size = 64;
  EXPECT_THROW(build_classifier("lenet5", o), Error);
}

TEST(LeNet, ResetHeadKeepsBackbone) {
  ModelOptions o;
  o.num_classes = 10;
  Classifier m = build_classifier("lenet5", o);
  auto x = torch::randn({2, 1, 28, 28});
  auto before = m->features(x).detach().clone();
  m->reset_head(3);
  EXPECT_EQ(m->forward(x).size(1), 3);
  EXPECT_EQ(m->num_classes(), 3);
  EXPECT_TRUE(torch::equal(before, m->features(x)));
  // The head keeps its torchvision-style name.
  bool found = false;
  for (const auto& p : m->named_parameters()) found |= p.key() == "classifier.4.weight";
  EXPECT_TRUE(found);
  EXPECT_EQ(count_parameters(*m), 61706 - 850 + 84 * 3 + 3);
}

TEST(LeNet, FewStepsReduceLoss) {
  torch::manual_seed(0);
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  // Ten separable classes: class k lights up row block k.
  auto target = torch::arange(10).repeat({8});
  auto x = torch::randn({80, 1, 28, 28}) * 0.1;
  for (int64_t i = 0; i < 80; ++i) x[i][0].narrow(0, 2 * target[i].item<int64_t>(), 2).add_(2.0);
  torch::optim::SGD opt(m->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  auto loss_of = [&] { return torch::nn::functional::cross_entropy(m->forward(x), target); };
  const double first = loss_of().item<double>();
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    auto loss = loss_of();
    loss.backward();
    opt.step();
  }
  const double last = loss_of().item<double>();
  EXPECT_LT(last, first * 0.5) << "first " << first << " last " << last;
}

TEST(Registry, UnknownModelListsKnownNames) {
  try {
    find_model("lenet6");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("lenet5"), std::string::npos);
  }
}

}  // namespace
}  // namespace zoo
