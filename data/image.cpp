// Single-image loading; see image.h.
#include "data/image.h"

#include "common/error.h"
#include "data/image_folder.h"
#include "data/transforms.h"

#include <filesystem>

namespace zoo {

torch::Tensor load_image_file(const std::string& path, const SampleSpec& spec) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw missing_error("image not found: " + path + "; HINT: check the path");
  }
  cv::Mat img = read_image(path, int(spec.channels));
  if (spec.resize > 0) {
    if (spec.resize < spec.height || spec.resize < spec.width) {
      throw usage_error("--resize " + std::to_string(spec.resize) + " is smaller than the crop " +
                        std::to_string(spec.height) + "x" + std::to_string(spec.width));
    }
    img = center_crop(resize_shorter(img, int(spec.resize), path), int(spec.height), int(spec.width));
  } else {
    img = resize_to(img, int(spec.height), int(spec.width));
  }
  auto out = torch::empty({spec.channels, spec.height, spec.width});
  to_normalized_chw(img, spec.mean, spec.std, out.data_ptr<float>());
  return out;
}

}  // namespace zoo
