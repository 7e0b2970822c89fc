// Class-name lists that ship inside the binary: ImageNet-1k's 1000 categories (for torchvision
// weights), and generic names for a class count with no names.
#pragma once

#include <string>
#include <vector>

namespace zoo {

const std::vector<std::string>& imagenet_classes();

// "0", "1", ..., "n-1".
std::vector<std::string> numbered_classes(int64_t n);

}  // namespace zoo
