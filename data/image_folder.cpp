// ImageFolder; see image_folder.h.
#include "data/image_folder.h"

#include "common/error.h"
#include "data/formats.h"

#include <opencv2/imgcodecs.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

namespace zoo {

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw missing_error("image not found: " + path + "; HINT: check the path");
    throw io_error("cannot open " + path + "; HINT: check its permissions");
  }
  const std::streamsize n = in.tellg();
  std::vector<uint8_t> bytes(size_t(std::max<std::streamsize>(n, 0)));
  in.seekg(0);
  if (n > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), n)) {
    throw io_error("cannot read " + path + "; HINT: check the disk");
  }
  return bytes;
}

bool is_jpeg(const std::vector<uint8_t>& b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

// A JPEG that lost its end: libjpeg would fill the missing rows with grey and only warn, where
// PIL (and so torchvision) refuses the file. The EOI marker may be followed by padding.
bool jpeg_truncated(const std::vector<uint8_t>& b) {
  const size_t tail = std::min<size_t>(b.size(), 4096);
  for (size_t i = b.size() - 1; i + tail >= b.size() && i >= 1; --i) {
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return false;
  }
  return true;
}

std::string unreadable_hint() {
  return "HINT: zoo reads JPEG, PNG, BMP, WebP, TIFF and PPM/PGM files; re-encode or remove it";
}

// --- What a file claims before it is decoded ---------------------------------------------------
// OpenCV allocates the whole image its header declares (up to 2^30 pixels, of up to 4 float
// channels) before it reads a row, so a 70-byte file could cost gigabytes. decode() reads the
// declared size first and refuses what no dataset image needs: more pixels than PIL's
// decompression-bomb limit (so torchvision refuses such a file too) or more decoded bytes than
// kMaxDecodedBytes. Only the formats zoo documents are passed to OpenCV (by signature, as it
// detects them); a header whose size cannot be read is refused too.

constexpr int64_t kMaxImagePixels = 178'956'970;        // PIL: 2 x Image.MAX_IMAGE_PIXELS
constexpr int64_t kMaxDecodedBytes = int64_t(3) << 29;  // 1.5 GiB, a 16-bit RGBA PNG at that limit

struct DeclaredSize {
  const char* format = nullptr;  // nullptr: not a format zoo reads
  int64_t width = 0, height = 0;  // 0: unreadable
  int64_t bytes_per_pixel = 4;    // the most the decoded image can take per pixel
};

uint32_t le_u(const std::vector<uint8_t>& b, size_t at, int n) {
  uint32_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | b[at + size_t(k)];
  return v;
}

uint32_t be_u(const std::vector<uint8_t>& b, size_t at, int n) {
  uint32_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | b[at + size_t(k)];
  return v;
}

// JPEG: the first SOFn, reading markers as libjpeg does (bytes before a marker and fill bytes
// skipped, segments skipped by their length); {0, 0} when SOS or the end comes first.
void jpeg_declared(const std::vector<uint8_t>& b, DeclaredSize& d) {
  size_t i = 2;
  while (i < b.size()) {
    while (i < b.size() && b[i] != 0xFF) ++i;  // libjpeg warns and skips such bytes
    while (i < b.size() && b[i] == 0xFF) ++i;
    if (i >= b.size()) return;
    const uint8_t marker = b[i++];
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length
    if (marker == 0xD9 || marker == 0xDA) return;  // the end, or scan data before any frame header
    if (i + 2 > b.size()) return;
    const size_t length = be_u(b, i, 2);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (i + 7 > b.size()) return;
      d.height = be_u(b, i + 3, 2);
      d.width = be_u(b, i + 5, 2);
      return;
    }
    if (length < 2) return;
    i += length;
  }
}

// PPM/PGM/PBM (P1..P6): width, height and maxval after the magic, with # comments.
void pnm_declared(const std::vector<uint8_t>& b, DeclaredSize& d) {
  size_t i = 2;
  int64_t numbers[3] = {0, 0, 0};
  const int count = (b[1] == '1' || b[1] == '4') ? 2 : 3;  // a bitmap has no maxval
  for (int n = 0; n < count; ++n) {
    for (;;) {
      while (i < b.size() && std::isspace(b[i])) ++i;
      if (i < b.size() && b[i] == '#') {
        while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
        continue;
      }
      break;
    }
    if (i >= b.size() || !std::isdigit(b[i])) return;
    for (; i < b.size() && std::isdigit(b[i]); ++i) {
      numbers[n] = std::min<int64_t>(numbers[n] * 10 + (b[i] - '0'), int64_t(1) << 40);
    }
  }
  d.width = numbers[0];
  d.height = numbers[1];
  d.bytes_per_pixel = count == 3 && numbers[2] > 255 ? 6 : 3;
}

// TIFF and BigTIFF: ImageWidth, ImageLength and BitsPerSample of the first IFD.
void tiff_declared(const std::vector<uint8_t>& b, DeclaredSize& d) {
  if (b.size() < 16) return;
  const bool le = b[0] == 'I';
  auto u = [&](uint64_t at, int n) -> uint64_t {
    if (at > b.size() || uint64_t(n) > b.size() - at) return 0;
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t(b[at + uint64_t(le ? k : n - 1 - k)]) << (8 * k);
    return v;
  };
  const bool big = u(2, 2) == 43;
  const uint64_t ifd = big ? u(8, 8) : u(4, 4);
  const uint64_t entries = big ? u(ifd, 8) : u(ifd, 2);
  const int entry_size = big ? 20 : 12, count_size = big ? 8 : 4, inline_size = big ? 8 : 4;
  int64_t bits = 8;
  for (uint64_t e = 0; e < entries && e < 4096; ++e) {
    const uint64_t at = ifd + (big ? 8 : 2) + e * uint64_t(entry_size);
    if (at + uint64_t(entry_size) > b.size()) return;
    const uint64_t tag = u(at, 2), type = u(at + 2, 2), count = u(at + 4, count_size);
    const uint64_t value_at = at + 4 + uint64_t(count_size);
    const int width = type == 3 ? 2 : type == 4 ? 4 : type == 16 ? 8 : 0;  // SHORT, LONG, LONG8
    if (width == 0 || count == 0) continue;
    // The first value, inline or at its offset.
    const uint64_t first_at = count * uint64_t(width) <= uint64_t(inline_size) ? value_at : u(value_at, inline_size);
    const int64_t value = int64_t(std::min<uint64_t>(u(first_at, width), uint64_t(1) << 40));
    if (tag == 256) d.width = value;
    if (tag == 257) d.height = value;
    if (tag == 258) bits = value;
  }
  // OpenCV decodes up to 4 channels of 8, 16, 32 or 64 bits.
  d.bytes_per_pixel = 4 * std::max<int64_t>(1, (std::min<int64_t>(bits, 64) + 7) / 8);
}

DeclaredSize declared_size(const std::vector<uint8_t>& b) {
  DeclaredSize d;
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (b.size() >= 8 && std::equal(kPng, kPng + 8, b.begin())) {
    d.format = "PNG";
    if (b.size() >= 26 && std::memcmp(b.data() + 12, "IHDR", 4) == 0) {
      d.width = be_u(b, 16, 4);
      d.height = be_u(b, 20, 4);
      d.bytes_per_pixel = b[24] == 16 ? 8 : 4;
    }
  } else if (is_jpeg(b)) {
    d.format = "JPEG";
    jpeg_declared(b, d);
  } else if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') {
    d.format = "BMP";
    if (b.size() >= 26) {
      const uint32_t header = le_u(b, 14, 4);
      if (header == 12) {
        d.width = le_u(b, 18, 2);
        d.height = le_u(b, 20, 2);
      } else if (header >= 36) {
        d.width = std::abs(int64_t(int32_t(le_u(b, 18, 4))));
        d.height = std::abs(int64_t(int32_t(le_u(b, 22, 4))));
      }
    }
  } else if (b.size() >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(b.data() + 8, "WEBP", 4) == 0) {
    d.format = "WebP";  // at most 16384 x 16384 by its format: 1 GiB decoded
    d.width = d.height = 1;
  } else if (b.size() >= 4 && ((b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
                               (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43)))) {
    d.format = "TIFF";
    tiff_declared(b, d);
  } else if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && std::isspace(b[2])) {
    d.format = "PNM";
    pnm_declared(b, d);
  }
  return d;
}

void check_declared_size(const std::vector<uint8_t>& bytes, const std::string& path) {
  const DeclaredSize d = declared_size(bytes);
  if (d.format == nullptr) {
    std::string start;
    for (size_t i = 0; i < bytes.size() && i < 4; ++i) {
      static const char* hex = "0123456789abcdef";
      start += std::string(i ? " " : "") + hex[bytes[i] >> 4] + hex[bytes[i] & 15];
    }
    throw data_error("image " + path + " is not a JPEG, PNG, BMP, WebP, TIFF or PPM/PGM file (it starts with " +
                     start + "); " + unreadable_hint());
  }
  if (d.width <= 0 || d.height <= 0) {
    throw data_error("cannot read the size of " + std::string(d.format) + " image " + path +
                     " from its header (damaged or truncated); " + unreadable_hint());
  }
  const bool too_many = d.width > kMaxImagePixels || d.height > kMaxImagePixels / d.width;
  if (too_many || d.width * d.height * d.bytes_per_pixel > kMaxDecodedBytes) {
    throw data_error(std::string(d.format) + " image " + path + " declares " + std::to_string(d.width) + " x " +
                     std::to_string(d.height) + " pixels, more than zoo decodes (" +
                     std::to_string(kMaxImagePixels) + " pixels, PIL's decompression-bomb limit, and " +
                     std::to_string(kMaxDecodedBytes >> 20) + " MiB decoded); HINT: the file is damaged, or "
                     "downscale the image");
  }
}

// Decodes bytes (already checked non-empty), at 1/reduce size for JPEG, into `channels`.
cv::Mat decode(const std::vector<uint8_t>& bytes, int reduce, int channels, const std::string& path) {
  check_declared_size(bytes, path);
  int flags = cv::IMREAD_UNCHANGED;
  if (reduce > 1) {
    const bool gray = channels == 1;
    switch (reduce) {
      case 2: flags = gray ? cv::IMREAD_REDUCED_GRAYSCALE_2 : cv::IMREAD_REDUCED_COLOR_2; break;
      case 4: flags = gray ? cv::IMREAD_REDUCED_GRAYSCALE_4 : cv::IMREAD_REDUCED_COLOR_4; break;
      default: flags = gray ? cv::IMREAD_REDUCED_GRAYSCALE_8 : cv::IMREAD_REDUCED_COLOR_8; break;
    }
    flags |= cv::IMREAD_IGNORE_ORIENTATION;
  }
  const cv::Mat buf(1, int(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data()));
  cv::Mat img;
  try {
    img = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    throw data_error("cannot decode image " + path + " (" + e.msg + "); " + unreadable_hint());
  }
  if (img.empty()) throw data_error("cannot decode image " + path + "; " + unreadable_hint());
  return to_channels(img, channels, path);
}

// The largest libjpeg scale (8, 4, 2) at which `box` of an image still has at least
// out_h x out_w pixels; 1 when none.
int reduce_for(double box_h, double box_w, int out_h, int out_w) {
  for (int k : {8, 4, 2}) {
    if (box_h / k >= out_h && box_w / k >= out_w) return k;
  }
  return 1;
}

std::vector<uint8_t> read_checked(const std::string& path) {
  std::vector<uint8_t> bytes = read_bytes(path);
  if (bytes.empty()) throw data_error("image file " + path + " is empty (0 bytes); " + unreadable_hint());
  if (is_jpeg(bytes) && jpeg_truncated(bytes)) {
    throw data_error("JPEG " + path + " is truncated (no end-of-image marker); " + unreadable_hint());
  }
  return bytes;
}

}  // namespace

bool has_image_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* known : {".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp"}) {
    if (ext == known) return true;
  }
  return false;
}

namespace {

ImageFolderScan scan_folders(const fs::path& root, const std::vector<std::string>* classes) {
  ImageFolderScan scan;
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name[0] != '.') folders.push_back(name);
  }
  std::sort(folders.begin(), folders.end());
  std::map<std::string, int64_t> index;
  if (classes) {
    scan.classes = *classes;
    for (size_t i = 0; i < classes->size(); ++i) index[(*classes)[i]] = int64_t(i);
    for (const auto& f : folders) {
      if (!index.count(f)) {
        throw data_error("class folder " + (root / f).string() + " is not a class of the training "
                         "split; HINT: " + root.string() + " must have the same class folders as train/");
      }
    }
  } else {
    scan.classes = folders;
    for (size_t i = 0; i < folders.size(); ++i) index[folders[i]] = int64_t(i);
  }
  for (const auto& folder : folders) {
    std::vector<std::string> paths;
    for (const auto& entry : fs::recursive_directory_iterator(
             root / folder, fs::directory_options::follow_directory_symlink)) {
      if (entry.is_regular_file() && has_image_extension(entry.path()) &&
          entry.path().filename().string()[0] != '.') {
        paths.push_back(entry.path().string());
      }
    }
    std::sort(paths.begin(), paths.end());
    if (paths.empty()) scan.empty_classes.push_back(folder);
    for (auto& p : paths) scan.files.push_back({std::move(p), index.at(folder)});
  }
  return scan;
}

}  // namespace

ImageFolderScan scan_image_folder(const fs::path& root, const std::vector<std::string>* classes) {
  try {
    return scan_folders(root, classes);
  } catch (const fs::filesystem_error& e) {
    throw io_error("cannot list " + root.string() + ": " + e.code().message() +
                   "; HINT: check the folder's permissions");
  }
}

cv::Size image_header_size(const std::vector<uint8_t>& b) {
  auto be16 = [&](size_t i) { return (int(b[i]) << 8) | int(b[i + 1]); };
  auto be31 = [&](size_t i) {  // a PNG dimension: at most 2^31 - 1, else 0 (unparsable)
    const uint32_t v = (uint32_t(b[i]) << 24) | (uint32_t(b[i + 1]) << 16) | (uint32_t(b[i + 2]) << 8) | b[i + 3];
    return v > uint32_t(INT32_MAX) ? 0 : int(v);
  };
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (b.size() >= 24 && std::equal(kPng, kPng + 8, b.begin())) {
    const int w = be31(16), h = be31(20);
    return w > 0 && h > 0 ? cv::Size(w, h) : cv::Size(0, 0);
  }
  if (!is_jpeg(b)) return {0, 0};
  size_t i = 2;
  while (i + 9 < b.size()) {
    if (b[i] != 0xFF) return {0, 0};
    const uint8_t marker = b[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      i += 2;
      continue;
    }
    const int length = be16(i + 2);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) return {be16(i + 7), be16(i + 5)};
    if (marker == 0xDA || marker == 0xD9) return {0, 0};  // scan data before any frame header
    i += 2 + size_t(length);
  }
  return {0, 0};
}

cv::Mat read_image(const std::string& path, int channels) {
  return decode(read_checked(path), 1, channels, path);
}

ImageSizeProbe probe_image_sizes(const std::vector<ImageFile>& files, size_t count) {
  ImageSizeProbe p;
  const size_t n = std::min(count, files.size());
  for (size_t k = 0; k < n; ++k) {
    const std::string& path = files[k * files.size() / n].path;
    cv::Size size;
    try {
      const std::vector<uint8_t> bytes = read_checked(path);
      size = image_header_size(bytes);
      if (size.width <= 0 || size.height <= 0) size = decode(bytes, 1, 3, path).size();
    } catch (const Error&) {
      continue;  // the loader warns about it when it comes to it
    }
    const int64_t h = size.height, w = size.width;
    p.min_height = p.probed ? std::min(p.min_height, h) : h;
    p.min_width = p.probed ? std::min(p.min_width, w) : w;
    p.max_height = std::max(p.max_height, h);
    p.max_width = std::max(p.max_width, w);
    p.max_side = std::max({p.max_side, h, w});
    ++p.probed;
  }
  return p;
}

ImageFolderDataset::ImageFolderDataset(std::vector<ImageFile> files, SampleSpec spec,
                                       Augment augment, std::string root, bool small)
    : files_(std::move(files)), spec_(spec), augment_(augment), root_(std::move(root)), small_(small) {
  if (spec_.channels != 1 && spec_.channels != 3) {
    throw usage_error("image models take 1 or 3 input channels, got " + std::to_string(spec_.channels));
  }
  if (spec_.resize <= 0) spec_.resize = std::lround(spec_.height * 256.0 / 224.0);
}

std::array<int64_t, 2> ImageFolderDataset::source_size(size_t index) const {
  const cv::Mat img = read_image(files_[index].path, int(spec_.channels));
  return {img.rows, img.cols};
}

void ImageFolderDataset::load(size_t index, float* out, uint64_t sample_seed) const {
  try {
    load_file(files_[index].path, out, sample_seed);
  } catch (const cv::Exception& e) {  // an image OpenCV decoded but cannot convert or resize
    throw data_error("cannot transform image " + files_[index].path + " (" + e.msg + "); " +
                     unreadable_hint());
  }
}

void ImageFolderDataset::load_file(const std::string& path, float* out, uint64_t sample_seed) const {
  const int out_h = int(spec_.height), out_w = int(spec_.width), channels = int(spec_.channels);
  const std::vector<uint8_t> bytes = read_checked(path);
  // Before any geometry is computed from the header's claim.
  check_declared_size(bytes, path);
  if (small_) {
    small_image_pipeline(decode(bytes, 1, channels, path), spec_, augment_, /*flip=*/true, sample_seed, out);
    return;
  }
  const bool jpeg = is_jpeg(bytes);
  // Geometry is decided on the full-size image (from the header when it can be read cheaply),
  // so a sample's crop is the same whether or not the decoder reduces it.
  cv::Size full = image_header_size(bytes);
  cv::Mat img;
  if (full.width <= 0 || full.height <= 0) {
    img = decode(bytes, 1, channels, path);
    full = img.size();
  }
  if (augment_ == Augment::kNone) {
    const int shorter = std::min(full.width, full.height);
    const int k = jpeg ? reduce_for(shorter, shorter, int(spec_.resize), int(spec_.resize)) : 1;
    if (img.empty()) img = decode(bytes, k, channels, path);
    img = center_crop(resize_shorter(img, int(spec_.resize), path), out_h, out_w);
    to_normalized_chw(img, spec_.mean, spec_.std, out);
    return;
  }
  Rng rng(sample_seed);
  const CropBox box = random_resized_crop_box(full.height, full.width, rng);
  const int k = jpeg && img.empty() ? reduce_for(box.height, box.width, out_h, out_w) : 1;
  if (img.empty()) img = decode(bytes, k, channels, path);
  CropBox scaled = box;
  if (img.size() != full) {  // scale the box to the reduced image
    const double sy = double(img.rows) / full.height, sx = double(img.cols) / full.width;
    scaled.top = std::min(img.rows - 1, int(std::floor(box.top * sy)));
    scaled.left = std::min(img.cols - 1, int(std::floor(box.left * sx)));
    scaled.height = std::max(1, std::min(img.rows - scaled.top, int(std::lround(box.height * sy))));
    scaled.width = std::max(1, std::min(img.cols - scaled.left, int(std::lround(box.width * sx))));
  }
  // Crop without copying, then resize into the output size.
  cv::Mat x = resize_to(img(cv::Rect(scaled.left, scaled.top, scaled.width, scaled.height)), out_h, out_w);
  if (x.data == img.data) x = x.clone();
  if (rng.coin()) hflip_inplace(x);
  if (augment_ == Augment::kStrong) {
    x.convertTo(x, CV_32F, 1.0 / 255.0);
    strong_jitter().apply(x, rng);
  }
  to_normalized_chw(x, spec_.mean, spec_.std, out);
}

namespace {

// Files whose stored size decides between the ImageNet and the small-image pipeline.
constexpr size_t kSizeProbeFiles = 64;

bool has_subfolder(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory() && entry.path().filename().string()[0] != '.') return true;
  }
  return false;
}

// Holds out round(n * fraction) files of each class (at least one stays for training),
// chosen by a seeded shuffle; both parts keep the files' order.
void stratified_split(const std::vector<ImageFile>& files, size_t classes, double fraction,
                      uint64_t seed, std::vector<ImageFile>& train, std::vector<ImageFile>& val) {
  std::vector<std::vector<size_t>> by_class(classes);
  for (size_t i = 0; i < files.size(); ++i) by_class[size_t(files[i].label)].push_back(i);
  std::vector<bool> held(files.size(), false);
  Rng rng(seed);
  for (auto& members : by_class) {
    if (members.empty()) continue;
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[size_t(rng.randint(0, int64_t(i)))]);
    size_t n_val = size_t(std::lround(double(members.size()) * fraction));
    if (n_val >= members.size()) n_val = members.size() - 1;
    for (size_t k = 0; k < n_val; ++k) held[members[k]] = true;
  }
  for (size_t i = 0; i < files.size(); ++i) (held[i] ? val : train).push_back(files[i]);
}

void warn_empty(const ImageFolderScan& scan, const fs::path& root) {
  for (const auto& c : scan.empty_classes) {
    spdlog::warn("class folder {} has no image files; the class is kept (label numbers as torchvision's)",
                 (root / c).string());
  }
}

}  // namespace

bool has_image_folder_layout(const fs::path& dir) { return has_subfolder(dir); }

DataSplits open_image_folder(const fs::path& dir, const std::string& name, const DataOptions& options) {
  DataSplits splits;
  splits.name = name;
  splits.location = dir.string();
  std::error_code ec;
  fs::path val_dir;
  for (const char* v : {"val", "test"}) {
    if (fs::is_directory(dir / "train", ec) && fs::is_directory(dir / v, ec)) {
      val_dir = dir / v;
      splits.val_name = v;
      break;
    }
  }
  std::vector<ImageFile> train, val;
  const fs::path train_dir = val_dir.empty() ? dir : dir / "train";
  ImageFolderScan scan = scan_image_folder(train_dir);
  const std::string layout = "HINT: an ImageFolder is DIR/CLASS/IMAGE.jpg (or DIR/train/CLASS/... and "
                             "DIR/val/CLASS/...), images JPEG, PNG, BMP, WebP, TIFF or PPM";
  if (scan.classes.empty()) throw data_error("dataset folder " + train_dir.string() + " has no class folders; " + layout);
  if (scan.files.empty()) throw data_error("dataset folder " + train_dir.string() + " has no image files; " + layout);
  warn_empty(scan, train_dir);
  const ImageSizeProbe probe = probe_image_sizes(scan.files, kSizeProbeFiles);
  if (!val_dir.empty()) {
    ImageFolderScan val_scan = scan_image_folder(val_dir, &scan.classes);
    train = std::move(scan.files);
    val = std::move(val_scan.files);
  } else {
    if (!(options.val_split > 0.0 && options.val_split < 1.0)) {
      throw usage_error("--val-split must be in (0, 1) for " + dir.string() + ", which has no val/ or "
                        "test/ folder; got " + std::to_string(options.val_split));
    }
    splits.val_name = "val";
    stratified_split(scan.files, scan.classes.size(), options.val_split, options.seed, train, val);
  }
  splits.class_names = std::move(scan.classes);
  const Augment augment = parse_augment(options.augment);
  const bool small = probe.probed > 0 && probe.max_side <= kSmallImageSide;
  splits.native_size = small ? probe.max_side : 0;
  SampleSpec spec = fitted_spec(options, splits.native_size);
  const std::string size = std::to_string(spec.height) + (spec.height == spec.width ? "" : "x" + std::to_string(spec.width));
  if (!small) spec.resize = std::lround(spec.height * 256.0 / 224.0);
  splits.train = std::make_shared<ImageFolderDataset>(std::move(train), spec, augment, train_dir.string(), small);
  splits.val = std::make_shared<ImageFolderDataset>(std::move(val), spec, Augment::kNone,
                                                    val_dir.empty() ? dir.string() : val_dir.string(), small);
  std::string stored = "?";
  if (probe.probed > 0) {
    stored = probe.min_height == probe.max_height && probe.min_width == probe.max_width
                 ? std::to_string(probe.max_height) + " x " + std::to_string(probe.max_width)
                 : std::to_string(probe.min_height) + ".." + std::to_string(probe.max_height) + " x " +
                       std::to_string(probe.min_width) + ".." + std::to_string(probe.max_width);
  }
  if (small) {
    const bool uniform = probe.min_height == probe.max_height && probe.min_width == probe.max_width;
    splits.train_pipeline = small_pipeline_name(spec, uniform ? probe.max_height : 0, uniform ? probe.max_width : 0, augment, true);
    splits.eval_pipeline = small_pipeline_name(spec, uniform ? probe.max_height : 0, uniform ? probe.max_width : 0,
                                               Augment::kNone, true);
    splits.notes.push_back("small images (the " + std::to_string(probe.probed) + " files probed are " + stored +
                           ", at most " + std::to_string(kSmallImageSide) + " a side): the small-image pipeline "
                           "(padded random crop + flip), not RandomResizedCrop; --augment none turns it off");
  } else {
    splits.train_pipeline = "RandomResizedCrop(" + size + ", scale=(0.08, 1)) + RandomHorizontalFlip";
    if (augment == Augment::kStrong) splits.train_pipeline += " + ColorJitter(0.4, 0.4, 0.4, 0.1)";
    if (augment == Augment::kNone) splits.train_pipeline = "Resize(" + std::to_string(spec.resize) + ") + CenterCrop(" + size + ")";
    splits.train_pipeline += " + Normalize";
    splits.eval_pipeline = "Resize(" + std::to_string(spec.resize) + ") + CenterCrop(" + size + ") + Normalize";
  }
  describe_geometry(splits, options, stored);
  return splits;
}

}  // namespace zoo
