// The built-in weights catalogue: torchvision's weight enums for every zoo model torchvision
// publishes weights for (torchvision/models/{alexnet,vgg,googlenet,resnet,densenet}.py), one row
// per enum member, in enum order. tests/test_hub.cpp compares every field but the size and the
// GFLOPS with the installed torchvision (scripts/fixtures/torchvision_weights.py), so a row
// cannot drift; size (MiB) and GFLOPS are torchvision's `_file_size` and `_ops`, which its
// newer releases state. Every file lies under https://download.pytorch.org/models/ and every
// preprocessing is bilinear Resize(resize) + CenterCrop(crop).
#include "weights/catalogue.h"

#include <limits>

namespace zoo {

namespace {

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();  // torchvision reports nan
const char* const kImageNet1k = "imagenet-1k";
const char* const kBaseUrl = "https://download.pytorch.org/models/";

struct Norm {
  std::array<double, 3> mean, std;
};
constexpr Norm kImageNet{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};

struct Row {
  const char* model;
  const char* version;
  const char* enum_name;
  bool is_default;
  const char* file;
  double size_mb;
  const char* categories;
  int64_t crop, resize;
  Norm norm;
  int64_t num_params;
  double acc1, acc5, gflops;
  const char* recipe;
};

const Row kRows[] = {
    // model, version, enum, default, file, MiB, categories,
    //  crop, resize, normalization, parameters, acc@1, acc@5, GFLOPS, recipe
      {"alexnet", "IMAGENET1K_V1", "AlexNet_Weights", true, "alexnet-owt-7be5be79.pth", 233.087, kImageNet1k,
       224, 256, kImageNet, 61100840, 56.522, 79.066, 0.714,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg11", "IMAGENET1K_V1", "VGG11_Weights", true, "vgg11-8a719046.pth", 506.84, kImageNet1k,
       224, 256, kImageNet, 132863336, 69.02, 88.628, 7.609,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg11_bn", "IMAGENET1K_V1", "VGG11_BN_Weights", true, "vgg11_bn-6002323d.pth", 506.881, kImageNet1k,
       224, 256, kImageNet, 132868840, 70.37, 89.81, 7.609,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg13", "IMAGENET1K_V1", "VGG13_Weights", true, "vgg13-19584684.pth", 507.545, kImageNet1k,
       224, 256, kImageNet, 133047848, 69.928, 89.246, 11.308,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg13_bn", "IMAGENET1K_V1", "VGG13_BN_Weights", true, "vgg13_bn-abd245e5.pth", 507.59, kImageNet1k,
       224, 256, kImageNet, 133053736, 71.586, 90.374, 11.308,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg16", "IMAGENET1K_V1", "VGG16_Weights", true, "vgg16-397923af.pth", 527.796, kImageNet1k,
       224, 256, kImageNet, 138357544, 71.592, 90.382, 15.47,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg16", "IMAGENET1K_FEATURES", "VGG16_Weights", false, "vgg16_features-amdegroot-88682ab5.pth", 527.802, "",
       224, 256, Norm{{0.48235, 0.45882, 0.40784}, {0.00392156862745098, 0.00392156862745098, 0.00392156862745098}}, 138357544, kNone, kNone, 15.47,
       "https://github.com/amdegroot/ssd.pytorch#training-ssd"},
      {"vgg16_bn", "IMAGENET1K_V1", "VGG16_BN_Weights", true, "vgg16_bn-6c64b313.pth", 527.866, kImageNet1k,
       224, 256, kImageNet, 138365992, 73.36, 91.516, 15.47,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg19", "IMAGENET1K_V1", "VGG19_Weights", true, "vgg19-dcbb9e9d.pth", 548.051, kImageNet1k,
       224, 256, kImageNet, 143667240, 72.376, 90.876, 19.632,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"vgg19_bn", "IMAGENET1K_V1", "VGG19_BN_Weights", true, "vgg19_bn-c79401a0.pth", 548.143, kImageNet1k,
       224, 256, kImageNet, 143678248, 74.218, 91.842, 19.632,
       "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"},
      {"googlenet", "IMAGENET1K_V1", "GoogLeNet_Weights", true, "googlenet-1378be20.pth", 49.731, kImageNet1k,
       224, 256, kImageNet, 6624904, 69.778, 89.53, 1.498,
       "https://github.com/pytorch/vision/tree/main/references/classification#googlenet"},
      {"resnet18", "IMAGENET1K_V1", "ResNet18_Weights", true, "resnet18-f37072fd.pth", 44.661, kImageNet1k,
       224, 256, kImageNet, 11689512, 69.758, 89.078, 1.814,
       "https://github.com/pytorch/vision/tree/main/references/classification#resnet"},
      {"resnet34", "IMAGENET1K_V1", "ResNet34_Weights", true, "resnet34-b627a593.pth", 83.275, kImageNet1k,
       224, 256, kImageNet, 21797672, 73.314, 91.42, 3.664,
       "https://github.com/pytorch/vision/tree/main/references/classification#resnet"},
      {"resnet50", "IMAGENET1K_V1", "ResNet50_Weights", false, "resnet50-0676ba61.pth", 97.781, kImageNet1k,
       224, 256, kImageNet, 25557032, 76.13, 92.862, 4.089,
       "https://github.com/pytorch/vision/tree/main/references/classification#resnet"},
      {"resnet50", "IMAGENET1K_V2", "ResNet50_Weights", true, "resnet50-11ad3fa6.pth", 97.79, kImageNet1k,
       224, 232, kImageNet, 25557032, 80.858, 95.434, 4.089,
       "https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621"},
      {"resnet101", "IMAGENET1K_V1", "ResNet101_Weights", false, "resnet101-63fe2227.pth", 170.511, kImageNet1k,
       224, 256, kImageNet, 44549160, 77.374, 93.546, 7.801,
       "https://github.com/pytorch/vision/tree/main/references/classification#resnet"},
      {"resnet101", "IMAGENET1K_V2", "ResNet101_Weights", true, "resnet101-cd907fc2.pth", 170.53, kImageNet1k,
       224, 232, kImageNet, 44549160, 81.886, 95.78, 7.801,
       "https://github.com/pytorch/vision/issues/3995#new-recipe"},
      {"resnet152", "IMAGENET1K_V1", "ResNet152_Weights", false, "resnet152-394f9c45.pth", 230.434, kImageNet1k,
       224, 256, kImageNet, 60192808, 78.312, 94.046, 11.514,
       "https://github.com/pytorch/vision/tree/main/references/classification#resnet"},
      {"resnet152", "IMAGENET1K_V2", "ResNet152_Weights", true, "resnet152-f82ba261.pth", 230.474, kImageNet1k,
       224, 232, kImageNet, 60192808, 82.284, 96.002, 11.514,
       "https://github.com/pytorch/vision/issues/3995#new-recipe"},
      {"resnext50_32x4d", "IMAGENET1K_V1", "ResNeXt50_32X4D_Weights", false, "resnext50_32x4d-7cdf4587.pth", 95.789, kImageNet1k,
       224, 256, kImageNet, 25028904, 77.618, 93.698, 4.23,
       "https://github.com/pytorch/vision/tree/main/references/classification#resnext"},
      {"resnext50_32x4d", "IMAGENET1K_V2", "ResNeXt50_32X4D_Weights", true, "resnext50_32x4d-1a0047aa.pth", 95.833, kImageNet1k,
       224, 232, kImageNet, 25028904, 81.198, 95.34, 4.23,
       "https://github.com/pytorch/vision/issues/3995#new-recipe"},
      {"resnext101_32x8d", "IMAGENET1K_V1", "ResNeXt101_32X8D_Weights", false, "resnext101_32x8d-8ba56ff5.pth", 339.586, kImageNet1k,
       224, 256, kImageNet, 88791336, 79.312, 94.526, 16.414,
       "https://github.com/pytorch/vision/tree/main/references/classification#resnext"},
      {"resnext101_32x8d", "IMAGENET1K_V2", "ResNeXt101_32X8D_Weights", true, "resnext101_32x8d-110c445d.pth", 339.673, kImageNet1k,
       224, 232, kImageNet, 88791336, 82.834, 96.228, 16.414,
       "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres"},
      {"resnext101_64x4d", "IMAGENET1K_V1", "ResNeXt101_64X4D_Weights", true, "resnext101_64x4d-173b62eb.pth", 319.318, kImageNet1k,
       224, 232, kImageNet, 83455272, 83.246, 96.454, 15.46,
       "https://github.com/pytorch/vision/pull/5935"},
      {"wide_resnet50_2", "IMAGENET1K_V1", "Wide_ResNet50_2_Weights", false, "wide_resnet50_2-95faca4d.pth", 131.82, kImageNet1k,
       224, 256, kImageNet, 68883240, 78.468, 94.086, 11.398,
       "https://github.com/pytorch/vision/pull/912#issue-445437439"},
      {"wide_resnet50_2", "IMAGENET1K_V2", "Wide_ResNet50_2_Weights", true, "wide_resnet50_2-9ba9bcbe.pth", 263.124, kImageNet1k,
       224, 232, kImageNet, 68883240, 81.602, 95.758, 11.398,
       "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres"},
      {"wide_resnet101_2", "IMAGENET1K_V1", "Wide_ResNet101_2_Weights", false, "wide_resnet101_2-32ee1156.pth", 242.896, kImageNet1k,
       224, 256, kImageNet, 126886696, 78.848, 94.284, 22.753,
       "https://github.com/pytorch/vision/pull/912#issue-445437439"},
      {"wide_resnet101_2", "IMAGENET1K_V2", "Wide_ResNet101_2_Weights", true, "wide_resnet101_2-d733dc28.pth", 484.747, kImageNet1k,
       224, 232, kImageNet, 126886696, 82.51, 96.02, 22.753,
       "https://github.com/pytorch/vision/issues/3995#new-recipe"},
      {"densenet121", "IMAGENET1K_V1", "DenseNet121_Weights", true, "densenet121-a639ec97.pth", 30.845, kImageNet1k,
       224, 256, kImageNet, 7978856, 74.434, 91.972, 2.834,
       "https://github.com/pytorch/vision/pull/116"},
      {"densenet161", "IMAGENET1K_V1", "DenseNet161_Weights", true, "densenet161-8d451a50.pth", 110.369, kImageNet1k,
       224, 256, kImageNet, 28681000, 77.138, 93.56, 7.728,
       "https://github.com/pytorch/vision/pull/116"},
      {"densenet169", "IMAGENET1K_V1", "DenseNet169_Weights", true, "densenet169-b2777c0a.pth", 54.708, kImageNet1k,
       224, 256, kImageNet, 14149480, 75.6, 92.806, 3.36,
       "https://github.com/pytorch/vision/pull/116"},
      {"densenet201", "IMAGENET1K_V1", "DenseNet201_Weights", true, "densenet201-c1103571.pth", 77.373, kImageNet1k,
       224, 256, kImageNet, 20013928, 76.896, 93.37, 4.291,
       "https://github.com/pytorch/vision/pull/116"},
};

}  // namespace

std::vector<WeightsEntry> builtin_weights_catalogue() {
  std::vector<WeightsEntry> entries;
  for (const Row& r : kRows) {
    WeightsEntry e;
    e.name = std::string("torchvision:") + r.model + "." + r.version;
    e.model = r.model;
    e.version = r.version;
    e.enum_name = r.enum_name;
    e.is_default = r.is_default;
    e.url = std::string(kBaseUrl) + r.file;
    e.size_mb = r.size_mb;
    e.categories = r.categories;
    e.crop = r.crop;
    e.resize = r.resize;
    e.mean = r.norm.mean;
    e.std = r.norm.std;
    e.transform_input = e.model == "googlenet";  // torchvision's googlenet() with weights
    e.num_params = r.num_params;
    e.acc1 = r.acc1;
    e.acc5 = r.acc5;
    e.gflops = r.gflops;
    e.recipe = r.recipe;
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace zoo
