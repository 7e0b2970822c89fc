// The registry table. One row per model: name, family, builder, default input shape (C,H,W),
// normalization, default dataset, parameters, multiply-adds, description. Keep the columns
// aligned.
#include "models/registry.h"

#include "common/error.h"
#include "models/lenet.h"
#include "models/densenet.h"
#include "models/googlenet.h"
#include "models/alexnet.h"
#include "models/resnet.h"
#include "models/vgg.h"
// -- family includes --

#include <torch/nn/module.h>

namespace zoo {

namespace {

constexpr Normalization kImageNetNorm{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
constexpr Normalization kFashionMnistNorm{{0.2860, 0.2860, 0.2860}, {0.3530, 0.3530, 0.3530}};

std::vector<ModelInfo> make_table() {
  return {
      // name     family   builder  input        normalization      data
      //        parameters, multiply-adds (conv + linear, at the default input and class count
      //        of `zoo list`: 1000 for ImageNet models, 10 otherwise; test_info recomputes both),
      //        description
      {"lenet5", "lenet", lenet5, {1, 28, 28}, kFashionMnistNorm, "fashion-mnist",
           61706,      416520, "LeNet-5 (LeCun et al. 1998), ReLU + max-pool form, 61.7k parameters"},
      {"alexnet", "alexnet", alexnet, {3, 224, 224}, kImageNetNorm, "imagenet",
        61100840,   714188480, "AlexNet (Krizhevsky et al. 2012), torchvision's 64-192-384-256-256 form, 61.1M parameters"},
      {"alexnet2012", "alexnet", alexnet2012, {3, 227, 227}, kImageNetNorm, "imagenet",
        62378344,  1135256096, "AlexNet as in the 2012 paper (96-256-384-384-256, LRN), one-GPU form, 62.4M parameters"},
      {"vgg11", "vgg", vgg11, {3, 224, 224}, kImageNetNorm, "imagenet",
       132863336,  7609090048, "VGG-11 (Simonyan & Zisserman 2015), configuration A, 132.9M parameters"},
      {"vgg13", "vgg", vgg13, {3, 224, 224}, kImageNetNorm, "imagenet",
       133047848, 11308466176, "VGG-13 (Simonyan & Zisserman 2015), configuration B, 133.0M parameters"},
      {"vgg16", "vgg", vgg16, {3, 224, 224}, kImageNetNorm, "imagenet",
       138357544, 15470264320, "VGG-16 (Simonyan & Zisserman 2015), configuration D, 138.4M parameters"},
      {"vgg19", "vgg", vgg19, {3, 224, 224}, kImageNetNorm, "imagenet",
       143667240, 19632062464, "VGG-19 (Simonyan & Zisserman 2015), configuration E, 143.7M parameters"},
      {"vgg11_bn", "vgg", vgg11_bn, {3, 224, 224}, kImageNetNorm, "imagenet",
       132868840,  7609090048, "VGG-11 with batch norm (Simonyan & Zisserman 2015), configuration A, 132.9M parameters"},
      {"vgg13_bn", "vgg", vgg13_bn, {3, 224, 224}, kImageNetNorm, "imagenet",
       133053736, 11308466176, "VGG-13 with batch norm (Simonyan & Zisserman 2015), configuration B, 133.1M parameters"},
      {"vgg16_bn", "vgg", vgg16_bn, {3, 224, 224}, kImageNetNorm, "imagenet",
       138365992, 15470264320, "VGG-16 with batch norm (Simonyan & Zisserman 2015), configuration D, 138.4M parameters"},
      {"vgg19_bn", "vgg", vgg19_bn, {3, 224, 224}, kImageNetNorm, "imagenet",
       143678248, 19632062464, "VGG-19 with batch norm (Simonyan & Zisserman 2015), configuration E, 143.7M parameters"},
      {"resnet18", "resnet", resnet18, {3, 224, 224}, kImageNetNorm, "imagenet",
        11689512,  1814073344, "ResNet-18 (He et al. 2016), basic blocks 2-2-2-2, 11.7M parameters"},
      {"resnet34", "resnet", resnet34, {3, 224, 224}, kImageNetNorm, "imagenet",
        21797672,  3663761408, "ResNet-34 (He et al. 2016), basic blocks 3-4-6-3, 21.8M parameters"},
      {"resnet50", "resnet", resnet50, {3, 224, 224}, kImageNetNorm, "imagenet",
        25557032,  4089184256, "ResNet-50 (He et al. 2016), torchvision's v1.5 bottlenecks 3-4-6-3, 25.6M parameters"},
      {"resnet101", "resnet", resnet101, {3, 224, 224}, kImageNetNorm, "imagenet",
        44549160,  7801405440, "ResNet-101 (He et al. 2016), torchvision's v1.5 bottlenecks 3-4-23-3, 44.5M parameters"},
      {"resnet152", "resnet", resnet152, {3, 224, 224}, kImageNetNorm, "imagenet",
        60192808, 11513626624, "ResNet-152 (He et al. 2016), torchvision's v1.5 bottlenecks 3-8-36-3, 60.2M parameters"},
      {"resnext50_32x4d", "resnet", resnext50_32x4d, {3, 224, 224}, kImageNetNorm, "imagenet",
        25028904, 4230479872, "ResNeXt-50 32x4d (Xie et al. 2017), grouped bottlenecks 3-4-6-3, cardinality 32, 25.0M parameters"},
      {"resnext101_32x8d", "resnet", resnext101_32x8d, {3, 224, 224}, kImageNetNorm, "imagenet",
        88791336, 16414015488, "ResNeXt-101 32x8d (Xie et al. 2017), grouped bottlenecks 3-4-23-3, cardinality 32, 88.8M parameters"},
      {"resnext101_64x4d", "resnet", resnext101_64x4d, {3, 224, 224}, kImageNetNorm, "imagenet",
        83455272, 15460270080, "ResNeXt-101 64x4d (Xie et al. 2017), grouped bottlenecks 3-4-23-3, cardinality 64, 83.5M parameters"},
      {"wide_resnet50_2", "resnet", wide_resnet50_2, {3, 224, 224}, kImageNetNorm, "imagenet",
        68883240, 11398021120, "Wide ResNet-50-2 (Zagoruyko & Komodakis 2016), bottlenecks twice as wide, 3-4-6-3, 68.9M parameters"},
      {"wide_resnet101_2", "resnet", wide_resnet101_2, {3, 224, 224}, kImageNetNorm, "imagenet",
       126886696, 22753050624, "Wide ResNet-101-2 (Zagoruyko & Komodakis 2016), bottlenecks twice as wide, 3-4-23-3, 126.9M parameters"},
      // -- alexnet, vgg, resnet rows --
      {"googlenet", "googlenet", googlenet, {3, 224, 224}, kImageNetNorm, "imagenet",
         6624904,  1498376192, "GoogLeNet / Inception v1 (Szegedy et al. 2014), torchvision's BN form, 6.6M parameters"},
      {"densenet121", "densenet", densenet121, {3, 224, 224}, kImageNetNorm, "imagenet",
         7978856,  2834161664, "DenseNet-121 (Huang et al. 2017), growth 32, blocks 6-12-24-16, 8.0M parameters"},
      {"densenet161", "densenet", densenet161, {3, 224, 224}, kImageNetNorm, "imagenet",
        28681000,  7727907072, "DenseNet-161 (Huang et al. 2017), growth 48, blocks 6-12-36-24, 28.7M parameters"},
      {"densenet169", "densenet", densenet169, {3, 224, 224}, kImageNetNorm, "imagenet",
        14149480,  3359843328, "DenseNet-169 (Huang et al. 2017), growth 32, blocks 6-12-32-32, 14.1M parameters"},
      {"densenet201", "densenet", densenet201, {3, 224, 224}, kImageNetNorm, "imagenet",
        20013928,  4291365888, "DenseNet-201 (Huang et al. 2017), growth 32, blocks 6-12-48-32, 20.0M parameters"},
      // -- googlenet, densenet rows --
      {"charlm", "charlm", nullptr, {0, 0, 0}, {}, "common-licenses",
          886880,      876544, "character-level language model (char-rnn): embedding 64, 2-layer LSTM 256, per character (--cell, --hidden, ...)"},
      {"captioner", "captioner", nullptr, {3, 64, 64}, kImageNetNorm, "shapes-captions",
        14166800,  1817350144, "image captioner (Show and Tell / Show, Attend and Tell): a zoo CNN encoder (--backbone resnet18) and an LSTM decoder (--attention)"},
  };
}

}  // namespace

const std::vector<ModelInfo>& model_table() {
  static const std::vector<ModelInfo> table = make_table();
  return table;
}

std::string known_model_names() {
  std::string names;
  for (const auto& info : model_table()) names += (names.empty() ? "" : ", ") + info.name;
  return names;
}

const ModelInfo& find_model(const std::string& name) {
  for (const auto& info : model_table()) {
    if (info.name == name) return info;
  }
  throw usage_error("unknown model '" + name + "'; known models: " + known_model_names() +
                    "; HINT: `zoo list` describes them");
}

int64_t default_num_classes(const ModelInfo& info) {
  return info.default_data == "imagenet" ? 1000 : 10;
}

const ModelInfo& find_classifier(const std::string& name, const std::string& what) {
  const ModelInfo& info = find_model(name);
  if (info.is_captioner()) {
    throw usage_error(what + " needs an image classifier, and " + name + " is an image captioner; HINT: "
                      "zoo train " + name + ", zoo caption IMAGE, zoo eval --weights CKPT");
  }
  if (!info.is_classifier()) {
    throw usage_error(what + " needs an image classifier, and " + name + " is a character-level "
                      "language model; HINT: zoo train " + name + ", zoo sample, zoo eval --weights "
                      "CKPT --data TEXT");
  }
  return info;
}

Classifier build_classifier(const std::string& name, ModelOptions options) {
  const ModelInfo& info = find_classifier(name, "building a classifier");
  if (options.num_classes <= 0) {
    throw usage_error("--num-classes must be positive, got " + std::to_string(options.num_classes));
  }
  if (options.in_channels == 0) options.in_channels = info.input_shape[0];
  if (options.input_size == 0) options.input_size = info.input_shape[1];
  return info.build(options);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace zoo
