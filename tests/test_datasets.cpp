// Dataset formats on fixtures written here in the official layouts: ImageFolder (with a
// truncated JPEG, a zero-byte file, a non-image file, an empty class folder; grey, RGBA and
// 16-bit images), CIFAR-10 and CIFAR-100 binary batches byte for byte, the generated shapes
// set; name resolution under $ZOO_DATA; transforms' geometry on real files; determinism
// across loader worker counts.
#include "common/error.h"
#include "data/datasets.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/inspect.h"
#include "data/loader.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::kind_of;
using test::TempDir;

// An RGB image whose left half is (r, g, b) and right half black, saved as BGR.
void write_image(const std::string& path, int rows, int cols, cv::Scalar rgb) {
  cv::Mat img(rows, cols, CV_8UC3, cv::Scalar(0, 0, 0));
  img(cv::Rect(0, 0, cols / 2, rows)).setTo(cv::Scalar(rgb[2], rgb[1], rgb[0]));
  ASSERT_TRUE(cv::imwrite(path, img)) << path;
}

DataOptions options_for(int64_t size, const std::string& augment = "none") {
  DataOptions o;
  o.sample.channels = 3;
  o.sample.height = o.sample.width = size;
  o.augment = augment;
  return o;
}

// root/{cat,dog,empty}: cat has 3 good JPEG/PNG files + a truncated JPEG + a zero-byte .png,
// dog has 2 good files (one grey PNG, one RGBA PNG) + a text file named .jpg + notes.txt.
void write_image_folder(const fs::path& root) {
  fs::create_directories(root / "cat");
  fs::create_directories(root / "dog");
  fs::create_directories(root / "empty");
  write_image((root / "cat/a.jpg").string(), 60, 80, {255, 0, 0});
  write_image((root / "cat/b.png").string(), 50, 50, {255, 0, 0});
  write_image((root / "cat/c.JPEG").string(), 90, 70, {255, 0, 0});
  std::string jpeg = test::read_file((root / "cat/a.jpg").string());
  test::write_file((root / "cat/truncated.jpg").string(), jpeg.substr(0, jpeg.size() / 2));
  test::write_file((root / "cat/zero.png").string(), "");
  cv::imwrite((root / "dog/grey.png").string(), cv::Mat(40, 40, CV_8UC1, cv::Scalar(128)));
  cv::imwrite((root / "dog/alpha.png").string(), cv::Mat(40, 40, CV_8UC4, cv::Scalar(0, 0, 255, 10)));
  test::write_file((root / "dog/fake.jpg").string(), "this is not an image\n");
  test::write_file((root / "dog/notes.txt").string(), "ignored: not an image extension\n");
}

// Loads every sample of `d`; returns the number that failed.
int count_unreadable(const Dataset& d) {
  std::vector<float> buf(size_t(d.spec().numel()));
  int bad = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    try {
      d.load(i, buf.data(), i);
    } catch (const Error&) {
      ++bad;
    }
  }
  return bad;
}

TEST(ImageFolder, ClassesCountsAndUnreadableFiles) {
  TempDir dir;
  write_image_folder(dir.path() / "train");
  write_image_folder(dir.path() / "val");
  DataSplits s = open_dataset(dir / "", options_for(32));
  EXPECT_EQ(s.class_names, (std::vector<std::string>{"cat", "dog", "empty"}));
  EXPECT_EQ(s.val_name, "val");
  EXPECT_EQ(s.native_size, 0);
  ASSERT_EQ(s.train->size(), 8u);  // notes.txt is not an image file
  ASSERT_EQ(s.val->size(), 8u);
  std::vector<int64_t> per_class(3, 0);
  for (size_t i = 0; i < s.train->size(); ++i) ++per_class[size_t(s.train->label(i))];
  EXPECT_EQ(per_class, (std::vector<int64_t>{5, 3, 0}));
  EXPECT_EQ(count_unreadable(*s.train), 3);  // truncated, zero bytes, text named .jpg
  EXPECT_EQ(count_unreadable(*s.val), 3);

  // The loader skips and counts them, whatever the worker count.
  for (int workers : {0, 2}) {
    LoaderOptions lo;
    lo.batch_size = 3;
    lo.workers = workers;
    Loader loader(s.train, lo);
    loader.start_epoch(0);
    int64_t n = 0;
    while (auto b = loader.next()) {
      n += b->size();
      ASSERT_EQ(b->inputs().size(1), 3);
      ASSERT_EQ(b->inputs().size(2), 32);
    }
    EXPECT_EQ(n, 5);
    EXPECT_EQ(loader.skipped(), 3);
  }

  SplitReport r = inspect_split(*s.train, "train", 3, 2);
  EXPECT_EQ(r.samples, 8);
  EXPECT_EQ(r.per_class, (std::vector<int64_t>{5, 3, 0}));
  ASSERT_EQ(r.unreadable.size(), 3u);
  EXPECT_NE(r.unreadable[0].find("truncated.jpg"), std::string::npos) << r.unreadable[0];
  EXPECT_EQ(r.min_height, 40);
  EXPECT_EQ(r.max_height, 90);
  EXPECT_EQ(r.max_width, 80);
}

TEST(ImageFolder, ValFolderMustMatchTrainClasses) {
  TempDir dir;
  write_image_folder(dir.path() / "train");
  fs::create_directories(dir.path() / "test/horse");
  write_image(dir / "test/horse/h.png", 10, 10, {1, 2, 3});
  EXPECT_EQ(kind_of([&] { open_dataset(dir / "", options_for(32)); }), ErrorKind::kBadData);
  fs::remove_all(dir.path() / "test/horse");
  fs::create_directories(dir.path() / "test/dog");
  write_image(dir / "test/dog/d.png", 10, 10, {1, 2, 3});
  DataSplits s = open_dataset(dir / "", options_for(32));
  EXPECT_EQ(s.val_name, "test");
  ASSERT_EQ(s.val->size(), 1u);
  EXPECT_EQ(s.val->label(0), 1);
}

TEST(ImageFolder, SeededStratifiedValSplit) {
  TempDir dir;
  for (const char* c : {"a", "b"}) {
    fs::create_directories(dir.path() / c);
    for (int i = 0; i < (c[0] == 'a' ? 20 : 10); ++i) {
      write_image(dir / (std::string(c) + "/" + std::to_string(i) + ".png"), 8, 8, {10, 20, 30});
    }
  }
  DataOptions o = options_for(8);
  o.val_split = 0.2;
  DataSplits s = open_dataset(dir / "", o);
  EXPECT_EQ(s.train->size(), 24u);
  EXPECT_EQ(s.val->size(), 6u);
  int val_a = 0;
  for (size_t i = 0; i < s.val->size(); ++i) val_a += s.val->label(i) == 0;
  EXPECT_EQ(val_a, 4);  // 20% of each class
  auto val_files = [](const DataSplits& d) {
    std::vector<std::string> f;
    for (size_t i = 0; i < d.val->size(); ++i) f.push_back(d.val->describe(i));
    return f;
  };
  EXPECT_EQ(val_files(s), val_files(open_dataset(dir / "", o)));
  o.seed = 7;
  EXPECT_NE(val_files(s), val_files(open_dataset(dir / "", o)));
  o.val_split = 0.0;
  EXPECT_EQ(kind_of([&] { open_dataset(dir / "", o); }), ErrorKind::kUsage);
}

TEST(ImageFolder, EvalGeometryAndChannelConversion) {
  TempDir dir;
  fs::create_directories(dir.path() / "x");
  // 100 x 300, left half red: Resize(round(64 * 256 / 224) = 73) -> 73 x 219, CenterCrop(64)
  // keeps columns 78..141 of 219, i.e. the middle; so the left output columns are red for
  // x < 109.5 - 78 = 31.5 and black after.
  write_image(dir / "x/wide.png", 100, 300, {255, 0, 0});
  cv::Mat img16(20, 20, CV_16UC3, cv::Scalar(0, 0, 65535));
  cv::imwrite(dir / "x/deep.png", img16);
  fs::create_directories(dir.path() / "y");
  write_image(dir / "y/other.png", 8, 8, {0, 0, 255});
  DataOptions o = options_for(64);
  o.val_split = 0.5;
  DataSplits s = open_dataset(dir / "", o);
  ASSERT_EQ(s.train->spec().resize, 73);
  // Find wide.png in either split and load it through the evaluation pipeline.
  auto eval = std::make_shared<ImageFolderDataset>(
      std::vector<ImageFile>{{dir / "x/wide.png", 0}, {dir / "x/deep.png", 0}}, s.train->spec(),
      Augment::kNone, dir.path().string());
  std::vector<float> out(3 * 64 * 64);
  eval->load(0, out.data(), 0);
  EXPECT_NEAR(out[10 * 64 + 5], 1.0f, 1e-3);       // R, left
  EXPECT_NEAR(out[10 * 64 + 60], 0.0f, 1e-3);      // R, right
  EXPECT_NEAR(out[4096 + 10 * 64 + 5], 0.0f, 1e-3);  // G, left
  EXPECT_NEAR(out[10 * 64 + 29], 1.0f, 1e-2);
  EXPECT_NEAR(out[10 * 64 + 34], 0.0f, 1e-2);
  eval->load(1, out.data(), 0);  // 16-bit BGR (0, 0, 65535) -> red 1.0
  EXPECT_NEAR(out[0], 1.0f, 1e-6);
  EXPECT_NEAR(out[4096], 0.0f, 1e-6);

  // One channel models get grey.
  DataOptions grey = o;
  grey.sample.channels = 1;
  DataSplits g = open_dataset(dir / "", grey);
  EXPECT_EQ(g.train->spec().channels, 1);
  EXPECT_EQ(count_unreadable(*g.train) + count_unreadable(*g.val), 0);
}

TEST(ImageFolder, HeadersClaimingTooManyPixelsAreRefusedBeforeAnythingIsComputed) {
  TempDir dir;
  fs::create_directories(dir.path() / "c");
  // A truncated PNG header that declares 0x72727272 x 0x72727272 pixels (found by the image
  // fuzzer: the training crop was computed from it before any check), and a whole PNG whose
  // IHDR claims 20000 x 20000 (400 M pixels, over PIL's decompression-bomb limit).
  const std::string truncated = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(19, 'r');
  test::write_file(dir / "c/truncated.png", truncated);
  const std::string good = dir / "c/good.png";
  write_image(good, 60, 80, {255, 0, 0});
  std::string png = test::read_file(good);
  ASSERT_EQ(png.substr(12, 4), "IHDR");
  const char side[4] = {0, 0, 0x4e, 0x20};  // 20000, big-endian
  png.replace(16, 4, side, 4);
  png.replace(20, 4, side, 4);
  test::write_file(dir / "c/bomb.png", png);
  SampleSpec spec;
  spec.channels = 3;
  spec.height = spec.width = 32;
  for (const Augment a : {Augment::kNone, Augment::kStandard, Augment::kStrong}) {
    ImageFolderDataset d({{dir / "c/truncated.png", 0}, {dir / "c/bomb.png", 0}, {good, 0}}, spec, a,
                         dir.path().string());
    std::vector<float> out(3 * 32 * 32);
    for (size_t i = 0; i < 2; ++i) {
      try {
        d.load(i, out.data(), 7);
        ADD_FAILURE() << "sample " << i << " loaded";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kBadData);
        EXPECT_NE(std::string(e.what()).find(i == 0 ? "from its header (damaged or truncated)" : "more than zoo decodes"),
                  std::string::npos)
            << e.what();
      }
    }
    d.load(2, out.data(), 7);  // the untouched original still loads
  }
}

TEST(ImageFolder, ExtremeAspectRatiosAreRefusedBeforeResizing) {
  // A 1 x 60000 JPEG (a few hundred bytes): Resize(256) would make it 256 x 15.4M pixels. The
  // evaluation pipeline and predict's loader refuse it; the training crop (aspect ratio 3:4 to
  // 4:3) still reads it.
  TempDir dir;
  fs::create_directories(dir.path() / "c");
  const std::string path = dir / "c/strip.jpg";
  ASSERT_TRUE(cv::imwrite(path, cv::Mat(1, 60000, CV_8UC1, cv::Scalar(90))));
  SampleSpec spec;
  spec.channels = 3;
  spec.height = spec.width = 224;
  std::vector<float> out(3 * 224 * 224);
  const ImageFolderDataset eval({{path, 0}}, spec, Augment::kNone, dir.path().string());
  for (int k = 0; k < 2; ++k) {
    try {
      if (k == 0) {
        eval.load(0, out.data(), 1);
      } else {
        SampleSpec predict_spec = spec;
        predict_spec.resize = 256;
        load_image_file(path, predict_spec);
      }
      ADD_FAILURE() << (k == 0 ? "the evaluation pipeline" : "load_image_file") << " resized it";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kBadData);
      EXPECT_NE(std::string(e.what()).find("would make 15360000 x 256, more than zoo resizes"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  const ImageFolderDataset train({{path, 0}}, spec, Augment::kStandard, dir.path().string());
  train.load(0, out.data(), 1);
}

TEST(ImageFolder, TrainingCropIsRandomResizedCropAndDecodesReducedJpegs) {
  TempDir dir;
  fs::create_directories(dir.path() / "c");
  // A 1200 x 1600 JPEG with a smooth horizontal gradient: a reduced decode and a full-size
  // crop must agree.
  cv::Mat big(1200, 1600, CV_8UC3);
  for (int y = 0; y < big.rows; ++y) {
    for (int x = 0; x < big.cols; ++x) big.at<cv::Vec3b>(y, x) = {uint8_t(x * 255 / 1599), uint8_t(y * 255 / 1199), 128};
  }
  const std::string path = dir / "c/big.jpg";
  ASSERT_TRUE(cv::imwrite(path, big, {cv::IMWRITE_JPEG_QUALITY, 95}));
  std::string bytes = test::read_file(path);
  EXPECT_EQ(image_header_size(std::vector<uint8_t>(bytes.begin(), bytes.end())), cv::Size(1600, 1200));

  SampleSpec spec;
  spec.channels = 3;
  spec.height = spec.width = 32;
  ImageFolderDataset d({{path, 0}}, spec, Augment::kStandard, dir.path().string());
  const cv::Mat full = read_image(path, 3);
  std::vector<float> out(3 * 32 * 32);
  int flips = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    d.load(0, out.data(), seed);
    // The same box and flip from the same seed, on the full-size decode.
    Rng rng(seed);
    const CropBox box = random_resized_crop_box(1200, 1600, rng);
    cv::Mat ref = resize_to(crop(full, box), 32, 32);
    if (rng.coin()) {
      hflip_inplace(ref);
      ++flips;
    }
    double diff = 0;
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x) {
        for (int k = 0; k < 3; ++k) diff += std::abs(out[k * 1024 + y * 32 + x] - ref.at<cv::Vec3b>(y, x)[k] / 255.0);
      }
    }
    EXPECT_LT(diff / (3 * 32 * 32), 0.02) << "seed " << seed;
  }
  EXPECT_GT(flips, 0);
  EXPECT_LT(flips, 12);
}

// CIFAR-10 record: label, then 1024 R, 1024 G, 1024 B (row-major). Pixel (0, 1) of R is 255,
// the rest of R is 10 * label, G 100, B 200.
std::string cifar_record(int label, int coarse = -1) {
  std::string r;
  if (coarse >= 0) r.push_back(char(coarse));
  r.push_back(char(label));
  std::string pixels(3072, '\0');
  for (int i = 0; i < 1024; ++i) {
    pixels[size_t(i)] = char(10 * (label % 25));
    pixels[size_t(1024 + i)] = char(100);
    pixels[size_t(2048 + i)] = char(200);
  }
  pixels[1] = char(255);
  return r + pixels;
}

void write_cifar10(const fs::path& dir, int per_batch) {
  fs::create_directories(dir);
  int label = 0;
  for (int b = 1; b <= 5; ++b) {
    std::string bytes;
    for (int i = 0; i < per_batch; ++i) bytes += cifar_record(label++ % 10);
    test::write_file((dir / ("data_batch_" + std::to_string(b) + ".bin")).string(), bytes);
  }
  test::write_file((dir / "test_batch.bin").string(), cifar_record(3) + cifar_record(9));
  test::write_file((dir / "batches.meta.txt").string(),
                   "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
}

TEST(Cifar, Cifar10BatchesByteExact) {
  TempDir dir;
  write_cifar10(dir.path() / "cifar-10-batches-bin", 3);
  DataOptions o = options_for(224);  // a 224 model: CIFAR still gives its native 32
  o.sample.mean = {0, 0, 0};
  o.sample.std = {1, 1, 1};
  DataSplits s = open_dataset(dir / "", o);  // the archive's folder is found inside
  EXPECT_EQ(s.native_size, 32);
  EXPECT_EQ(s.class_names[1], "car");
  EXPECT_EQ(s.val_name, "test");
  ASSERT_EQ(s.train->size(), 15u);
  ASSERT_EQ(s.val->size(), 2u);
  EXPECT_EQ(s.train->label(13), 3);
  EXPECT_EQ(s.val->label(1), 9);
  ASSERT_EQ(s.train->spec().height, 32);
  std::vector<float> out(3 * 32 * 32);
  s.val->load(0, out.data(), 0);
  EXPECT_NEAR(out[0], 30 / 255.0, 1e-6);
  EXPECT_NEAR(out[1], 1.0, 1e-6);  // R (0, 1): planes are row-major
  EXPECT_NEAR(out[32], 30 / 255.0, 1e-6);
  EXPECT_NEAR(out[1024], 100 / 255.0, 1e-6);
  EXPECT_NEAR(out[2048 + 555], 200 / 255.0, 1e-6);

  o.input_size = 40;  // --input-size wins over the native size
  EXPECT_EQ(open_dataset(dir / "cifar-10-batches-bin", o).train->spec().height, 40);

  // A label past the classes and a short record are data errors.
  test::write_file(dir / "cifar-10-batches-bin/test_batch.bin", cifar_record(12));
  EXPECT_EQ(kind_of([&] { open_dataset(dir / "", o); }), ErrorKind::kBadData);
  test::write_file(dir / "cifar-10-batches-bin/test_batch.bin", cifar_record(1).substr(0, 3000));
  EXPECT_EQ(kind_of([&] { open_dataset(dir / "", o); }), ErrorKind::kBadData);
}

TEST(Cifar, Cifar100FineAndCoarseUnderZooData) {
  TempDir dir;
  const fs::path c = dir.path() / "cifar100" / "cifar-100-binary";
  fs::create_directories(c);
  std::string train, fine_names, coarse_names;
  for (int i = 0; i < 6; ++i) train += cifar_record(90 + i, i);
  for (int i = 0; i < 100; ++i) fine_names += "fine" + std::to_string(i) + "\n";
  for (int i = 0; i < 20; ++i) coarse_names += "coarse" + std::to_string(i) + "\n";
  test::write_file((c / "train.bin").string(), train);
  test::write_file((c / "test.bin").string(), cifar_record(42, 19));
  test::write_file((c / "fine_label_names.txt").string(), fine_names);
  test::write_file((c / "coarse_label_names.txt").string(), coarse_names);
  ::setenv("ZOO_DATA", dir.path().c_str(), 1);
  DataSplits fine = open_dataset("cifar100", options_for(32));
  DataSplits coarse = open_dataset("cifar100-coarse", options_for(32));
  ::unsetenv("ZOO_DATA");
  ASSERT_EQ(fine.class_names.size(), 100u);
  EXPECT_EQ(fine.class_names[95], "fine95");
  ASSERT_EQ(fine.train->size(), 6u);
  EXPECT_EQ(fine.train->label(5), 95);
  EXPECT_EQ(fine.val->label(0), 42);
  ASSERT_EQ(coarse.class_names.size(), 20u);
  EXPECT_EQ(coarse.train->label(5), 5);
  EXPECT_EQ(coarse.val->label(0), 19);
  EXPECT_EQ(coarse.class_names[19], "coarse19");
}

TEST(Names, NotFoundSaysWhereAndWhatLayout) {
  TempDir dir;
  ::setenv("ZOO_DATA", dir.path().c_str(), 1);
  for (const char* name : {"imagenet", "cifar10", "cifar100"}) {
    try {
      open_dataset(name, options_for(32));
      ADD_FAILURE() << name;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::kMissingInput);
      EXPECT_NE(m.find("looked in: " + (dir.path() / name).string()), std::string::npos) << m;
      EXPECT_NE(m.find(std::string(name) == "cifar10" ? "data_batch_1" : std::string(name) == "imagenet" ? "train/CLASS" : "train.bin"),
                std::string::npos) << m;
    }
  }
  ::unsetenv("ZOO_DATA");
  try {
    open_dataset("imagenet1k", options_for(32));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("cifar100, cifar100-coarse, mnist, fashion-mnist, shapes"), std::string::npos);
  }
  EXPECT_EQ(kind_of([&] { open_dataset("shapes", options_for(32, "heavy")); }), ErrorKind::kUsage);
}

TEST(Shapes, GeneratedLazilyAndDeterministic) {
  DataOptions o = options_for(224, "standard");
  DataSplits s = open_dataset("shapes", o);
  EXPECT_EQ(s.native_size, 64);
  EXPECT_EQ(s.train->spec().height, 64);  // the native size, not the model's 224
  EXPECT_EQ(open_dataset("shapes", options_for(32)).train->spec().height, 32);  // LeNet-size models
  EXPECT_EQ(s.class_names.size(), 10u);
  EXPECT_EQ(s.train->size(), 10000u);
  EXPECT_EQ(s.val->size(), 1000u);
  std::vector<int64_t> counts(10, 0);
  for (size_t i = 0; i < s.val->size(); ++i) ++counts[size_t(s.val->label(i))];
  for (int64_t n : counts) EXPECT_EQ(n, 100);
  std::vector<float> a(3 * 64 * 64), b(a.size()), c(a.size());
  s.val->load(3, a.data(), 1);
  open_dataset("shapes", o).val->load(3, b.data(), 2);  // val has no augmentation
  EXPECT_EQ(a, b);
  s.val->load(4, c.data(), 1);
  EXPECT_NE(a, c);
  for (float v : a) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
  s.train->load(3, a.data(), 1);
  s.train->load(3, b.data(), 1);
  EXPECT_EQ(a, b);
  s.train->load(3, c.data(), 2);
  EXPECT_NE(a, c);  // augmentation from the sample seed
}

TEST(Loader, ImageFolderBatchesIdenticalAcrossWorkerCounts) {
  TempDir dir;
  for (int k = 0; k < 3; ++k) {
    fs::create_directories(dir.path() / ("c" + std::to_string(k)));
    for (int i = 0; i < 7; ++i) {
      write_image(dir / ("c" + std::to_string(k) + "/" + std::to_string(i) + ".jpg"), 40 + 3 * i, 50 + 5 * k,
                  {double(80 * k), double(30 * i), 200});
    }
  }
  DataSplits s = open_dataset(dir / "", options_for(24, "strong"));
  auto epoch = [&](int workers) {
    LoaderOptions lo;
    lo.batch_size = 4;
    lo.workers = workers;
    lo.seed = 5;
    lo.drop_last = true;
    Loader loader(s.train, lo);
    loader.start_epoch(1);
    std::vector<torch::Tensor> out;
    while (auto b = loader.next()) out.push_back(torch::cat({b->inputs().flatten(), b->targets().to(torch::kFloat)}));
    return out;
  };
  const auto ref = epoch(0);
  EXPECT_EQ(int64_t(ref.size()), int64_t(s.train->size()) / 4);  // drop_last
  for (int workers : {1, 3}) {
    const auto got = epoch(workers);
    ASSERT_EQ(got.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(torch::equal(got[i], ref[i])) << workers << " " << i;
  }
}

TEST(NativeSize, ModelSizeOnlyWhenItPadsRatherThanUpscales) {
  EXPECT_EQ(fitted_spec(options_for(224), 28).height, 28);  // upscaling 8x: the native size
  EXPECT_EQ(fitted_spec(options_for(224), 32).height, 32);
  EXPECT_EQ(fitted_spec(options_for(32), 28).height, 32);   // LeNet-5: a 2-pixel border
  EXPECT_EQ(fitted_spec(options_for(64), 56).height, 64);   // a 4-pixel border, the widest padded
  EXPECT_EQ(fitted_spec(options_for(64), 54).height, 54);
  EXPECT_EQ(fitted_spec(options_for(32), 64).height, 32);   // larger images: the model's size
  DataOptions o = options_for(224);
  o.input_size = 96;
  EXPECT_EQ(fitted_spec(o, 28).height, 96);                 // --input-size wins
}

TEST(NativeSize, IdxDatasetsTrainAtTheirNativeSize) {
  TempDir dir;
  test::write_synthetic_idx(dir.path() / "fashion-mnist", 40, 10, 10);
  DataSplits s = open_dataset(dir / "fashion-mnist", options_for(224, "standard"));
  EXPECT_EQ(s.native_size, 28);
  EXPECT_EQ(s.stored_channels, 1);
  EXPECT_EQ(s.train->spec().height, 28);
  EXPECT_EQ(s.train->spec().channels, 3);
  EXPECT_EQ(s.train_pipeline, "Normalize");  // centred clothes: no augmentation by default
  std::string notes;
  for (const auto& n : s.notes) notes += n + "\n";
  EXPECT_NE(notes.find("input 28 x 28, the images' native size"), std::string::npos) << notes;
  EXPECT_NE(notes.find("1-channel images fed as 3 identical channels"), std::string::npos) << notes;
  // The three channels are the same grey picture, unpadded and unresized.
  std::vector<float> x(3 * 28 * 28);
  s.val->load(0, x.data(), 0);
  EXPECT_TRUE(std::equal(x.begin(), x.begin() + 784, x.begin() + 784));
  // LeNet's 32: the digits padded by 2, the border zero (mean 0, std 1 here).
  DataOptions lenet = options_for(32);
  lenet.sample.channels = 1;
  DataSplits l = open_dataset(dir / "fashion-mnist", lenet);
  EXPECT_EQ(l.train->spec().height, 32);
  EXPECT_EQ(l.eval_pipeline, "Pad(2) + Normalize");
  std::vector<float> y(32 * 32);
  l.val->load(0, y.data(), 0);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[2 * 32 + 2], x[0]);
  // --input-size 224 upscales (it used to pad 28 pixels into 224).
  DataOptions big = options_for(224);
  big.input_size = 224;
  DataSplits b = open_dataset(dir / "fashion-mnist", big);
  EXPECT_EQ(b.train->spec().height, 224);
  EXPECT_EQ(b.eval_pipeline, "Resize(224x224) + Normalize");
}

// root/{train,val}/{a,b}: 28 x 28 PNGs, as CIFAR or MNIST exported to folders.
void write_small_png_folder(const fs::path& root, int side) {
  for (const char* split : {"train", "val"}) {
    for (int k = 0; k < 2; ++k) {
      const fs::path dir = root / split / (k == 0 ? "a" : "b");
      fs::create_directories(dir);
      for (int i = 0; i < 4; ++i) write_image(dir / (std::to_string(i) + ".png"), side, side, {double(100 * k), 50, double(20 * i)});
    }
  }
}

TEST(NativeSize, FoldersOfSmallImagesGetTheSmallImagePipeline) {
  TempDir dir;
  write_small_png_folder(dir.path() / "tiny", 28);
  DataSplits s = open_dataset(dir / "tiny", options_for(224, "standard"));
  EXPECT_EQ(s.native_size, 28);
  EXPECT_EQ(s.train->spec().height, 28);
  EXPECT_EQ(s.train_pipeline, "RandomCrop(28, padding=4) + RandomHorizontalFlip + Normalize");
  EXPECT_EQ(s.eval_pipeline, "Normalize");
  std::string notes;
  for (const auto& n : s.notes) notes += n + "\n";
  EXPECT_NE(notes.find("small images"), std::string::npos) << notes;
  // Evaluation gives the stored pixels themselves: left half (0, 50, 0) of image a/0.png.
  std::vector<float> x(3 * 28 * 28);
  s.val->load(0, x.data(), 0);
  EXPECT_NEAR(x[784 + 5], 50.0f / 255.0f, 1e-6);
  EXPECT_NEAR(x[784 + 20], 0.0f, 1e-6);
  // Training: a padded random crop, so some samples have a zero border somewhere.
  bool shifted = false;
  for (uint64_t seed = 0; seed < 8 && !shifted; ++seed) {
    s.train->load(0, x.data(), seed);
    shifted = x[784 + 0] == 0.0f || x[784 + 14 * 28] == 0.0f || x[784 + 27 * 28 + 3] == 0.0f;
  }
  EXPECT_TRUE(shifted);
  // --augment none; and a folder of large images keeps the ImageNet pipeline.
  EXPECT_EQ(open_dataset(dir / "tiny", options_for(224, "none")).train_pipeline, "Normalize");
  write_small_png_folder(dir.path() / "large", 80);
  DataSplits l = open_dataset(dir / "large", options_for(64, "standard"));
  EXPECT_EQ(l.native_size, 0);
  EXPECT_EQ(l.train_pipeline, "RandomResizedCrop(64, scale=(0.08, 1)) + RandomHorizontalFlip + Normalize");
  EXPECT_EQ(l.eval_pipeline, "Resize(73) + CenterCrop(64) + Normalize");
}

}  // namespace
}  // namespace zoo
