// Caption datasets and the word vocabulary (data/captions.h): the tokenizer, the COCO, Flickr8k
// and Karpathy layouts written as small fixtures (the image files are empty, nothing decodes
// them here), the errors each layout gives, and the vocabulary's order, coding and JSON.
#include "data/captions.h"

#include "common/error.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Words = std::vector<std::string>;

using test::TempDir;

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

void touch(const fs::path& path) { write_file(path, ""); }

// The kind of the zoo::Error `f` throws, with its message checked to contain `needle`.
void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "message spans lines: " << e.what();
  }
}

// A COCO captions file: images (id, file_name) and annotations (image_id, caption).
json coco_json(const std::vector<std::pair<int, std::string>>& images,
               const std::vector<std::pair<int, std::string>>& annotations) {
  json j = {{"info", {{"description", "test"}}}, {"licenses", json::array()}};
  j["images"] = json::array();
  for (const auto& [id, name] : images) {
    j["images"].push_back({{"id", id}, {"file_name", name}, {"height", 4}, {"width", 4}, {"license", 1}});
  }
  j["annotations"] = json::array();
  int next = 100;
  for (const auto& [id, caption] : annotations) {
    j["annotations"].push_back({{"image_id", id}, {"id", next++}, {"caption", caption}});
  }
  return j;
}

// DIR/annotations/captions_{train,val}YEAR.json and the images they name in DIR/{train,val}YEAR.
void write_coco(const fs::path& dir, const std::string& year) {
  const json train = coco_json({{9, "b.jpg"}, {4, "a.jpg"}},
                               {{4, "A dog runs."}, {9, "Two cats"}, {4, "The DOG, running"},
                                {9, "cats sleeping"}, {9, "a cat"}});
  const json val = coco_json({{7, "c.jpg"}}, {{7, "A bird."}});
  write_file(dir / "annotations" / ("captions_train" + year + ".json"), train.dump());
  write_file(dir / "annotations" / ("captions_val" + year + ".json"), val.dump());
  write_file(dir / "annotations" / ("instances_train" + year + ".json"), "{}");
  for (const char* name : {"a.jpg", "b.jpg"}) touch(dir / ("train" + year) / name);
  touch(dir / ("val" + year) / "c.jpg");
}

// --- the tokenizer ---------------------------------------------------------------------------

TEST(CaptionTokenizer, LowerCasesAndSplitsPunctuation) {
  EXPECT_EQ(tokenize_caption("A dog, running."), (Words{"a", "dog", ",", "running", "."}));
  EXPECT_EQ(tokenize_caption("  Two\tcats\r\n on a  mat  "), (Words{"two", "cats", "on", "a", "mat"}));
  EXPECT_EQ(tokenize_caption("don't stop!!"), (Words{"don", "'", "t", "stop", "!", "!"}));
  EXPECT_EQ(tokenize_caption("well-known (x2)"), (Words{"well", "-", "known", "(", "x2", ")"}));
  EXPECT_EQ(tokenize_caption("<end>"), (Words{"<", "end", ">"}));
  EXPECT_TRUE(tokenize_caption("").empty());
  EXPECT_TRUE(tokenize_caption(" \t\n").empty());
}

TEST(CaptionTokenizer, KeepsUtf8InsideWords) {
  // Only ASCII letters are lower-cased; the bytes of "ä" and "Ä" pass through whole.
  EXPECT_EQ(tokenize_caption("Ein Mädchen läuft."), (Words{"ein", "mädchen", "läuft", "."}));
  EXPECT_EQ(tokenize_caption("ÄPFEL,Straße"), (Words{"Äpfel", ",", "straße"}));
  EXPECT_EQ(tokenize_caption("café—bar"), (Words{"café—bar"}));  // an em dash is not ASCII
}

// --- COCO ------------------------------------------------------------------------------------

TEST(CaptionSets, ReadsCoco2017) {
  TempDir dir;
  write_coco(dir.path(), "2017");
  const CaptionSet set = read_caption_set(dir.path().string());
  EXPECT_EQ(set.format, "coco");
  EXPECT_EQ(set.location, dir.path().string());
  ASSERT_EQ(set.train.size(), 2u);
  ASSERT_EQ(set.val.size(), 1u);
  EXPECT_TRUE(set.test.empty());
  // The order of the file's "images" list; captions in annotation order.
  EXPECT_EQ(set.train[0].path, (dir.path() / "train2017" / "b.jpg").string());
  EXPECT_EQ(set.train[0].captions,
            (std::vector<Words>{{"two", "cats"}, {"cats", "sleeping"}, {"a", "cat"}}));
  EXPECT_EQ(set.train[1].path, (dir.path() / "train2017" / "a.jpg").string());
  EXPECT_EQ(set.train[1].captions,
            (std::vector<Words>{{"a", "dog", "runs", "."}, {"the", "dog", ",", "running"}}));
  EXPECT_EQ(set.val[0].path, (dir.path() / "val2017" / "c.jpg").string());
  EXPECT_EQ(set.val[0].captions, (std::vector<Words>{{"a", "bird", "."}}));
}

TEST(CaptionSets, ReadsCoco2014Names) {
  TempDir dir;
  write_coco(dir.path(), "2014");
  const CaptionSet set = read_caption_set(dir.path().string());
  EXPECT_EQ(set.format, "coco");
  ASSERT_EQ(set.train.size(), 2u);
  EXPECT_EQ(set.train[1].path, (dir.path() / "train2014" / "a.jpg").string());
  EXPECT_EQ(set.val[0].path, (dir.path() / "val2014" / "c.jpg").string());
}

TEST(CaptionSets, CocoPrefersTheCompleteYear) {
  TempDir dir;
  write_coco(dir.path(), "2014");
  write_coco(dir.path(), "2017");
  EXPECT_EQ(read_caption_set(dir.path().string()).train[0].path, (dir.path() / "train2017" / "b.jpg").string());
  fs::remove(dir.path() / "annotations" / "captions_val2017.json");
  EXPECT_EQ(read_caption_set(dir.path().string()).train[0].path, (dir.path() / "train2014" / "b.jpg").string());
}

TEST(CaptionSets, CocoErrors) {
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    fs::remove(dir.path() / "annotations" / "captions_val2017.json");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kMissingInput, "captions_val2017.json");
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    fs::remove(dir.path() / "annotations" / "captions_train2017.json");
    fs::remove(dir.path() / "annotations" / "captions_val2017.json");
    // Only instances_train2017.json is left: the folder is COCO's, its captions are missing.
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kMissingInput, "captions_train2017.json");
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    fs::remove_all(dir.path() / "val2017");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kMissingInput, "val2017");
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    write_file(dir.path() / "annotations" / "captions_train2017.json", "{\"images\": [1, 2");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "malformed JSON in " + (dir.path() / "annotations" / "captions_train2017.json").string());
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    write_file(dir.path() / "annotations" / "captions_val2017.json",
               coco_json({{7, "c.jpg"}}, {{7, "A bird."}, {8, "A ghost."}}).dump());
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "annotations[1] in " + (dir.path() / "annotations" / "captions_val2017.json").string() +
                     " names image id 8");
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    write_file(dir.path() / "annotations" / "captions_val2017.json",
               coco_json({{7, "c.jpg"}, {8, "d.jpg"}}, {{7, "A bird."}}).dump());
    touch(dir.path() / "val2017" / "d.jpg");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "have no caption, e.g. d.jpg");
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    write_file(dir.path() / "annotations" / "captions_val2017.json",
               json{{"images", {{{"id", "7"}, {"file_name", "c.jpg"}}}}, {"annotations", json::array()}}
                   .dump());
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "images[0].id is not an integer");
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    fs::remove(dir.path() / "train2017" / "a.jpg");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "image " + (dir.path() / "train2017" / "a.jpg").string() + " listed in " +
                     (dir.path() / "annotations" / "captions_train2017.json").string() + " does not exist");
  }
  {
    TempDir dir;
    write_coco(dir.path(), "2017");
    fs::remove(dir.path() / "train2017" / "a.jpg");
    fs::remove(dir.path() / "train2017" / "b.jpg");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "2 of 2 images listed in " +
                     (dir.path() / "annotations" / "captions_train2017.json").string() + " are missing, e.g. ");
  }
}

TEST(CaptionSets, MissingDatasets) {
  TempDir dir;
  expect_error([&] { read_caption_set((dir.path() / "nowhere").string()); }, ErrorKind::kMissingInput,
               "does not exist");
  expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kMissingInput,
               "no caption dataset in " + dir.path().string() + ": looked for dataset_coco.json");
  // The lemmatised captions alone are not a dataset.
  write_file(dir.path() / "Flickr8k.lemma.token.txt", "a.jpg#0\tdog run\n");
  expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kMissingInput, "Flickr8k.token.txt");
}

// --- Flickr8k --------------------------------------------------------------------------------

// Flickr8k.token.txt for `names` (two captions each, the second upper-case), the images in
// DIR/`image_folder`, and a lemma file that must not be read.
void write_flickr8k(const fs::path& dir, const Words& names, const std::string& image_folder,
                    const std::string& line_end = "\n") {
  std::string tokens;
  for (const auto& name : names) {
    tokens += name + "#0\tA dog in " + name + " ." + line_end;
    tokens += name + "#1\tTHE DOG RUNS" + line_end;
    touch(dir / image_folder / name);
  }
  write_file(dir / "Flickr8k.token.txt", tokens);
  write_file(dir / "Flickr8k.lemma.token.txt", "this line is not IMAGE#N<TAB>caption\n");
}

Words image_names(const std::vector<CaptionImage>& images) {
  Words names;
  for (const auto& image : images) names.push_back(fs::path(image.path).filename().string());
  return names;
}

TEST(CaptionSets, ReadsFlickr8kWithSplitFiles) {
  TempDir dir;
  write_flickr8k(dir.path(), {"e.jpg", "d.jpg", "c.jpg", "b.jpg", "a.jpg"}, "Flicker8k_Dataset");
  // The official token file names an image that exists nowhere and that no split lists.
  write_file(dir.path() / "Flickr8k.token.txt",
             "x.jpg.1#0\tNot an image\n\n" + [&] {
               std::ifstream in(dir.path() / "Flickr8k.token.txt");
               return std::string(std::istreambuf_iterator<char>(in), {});
             }());
  write_file(dir.path() / "Flickr_8k.trainImages.txt", "e.jpg\nc.jpg\n\na.jpg\n");
  write_file(dir.path() / "Flickr_8k.devImages.txt", "d.jpg\n");
  write_file(dir.path() / "Flickr_8k.testImages.txt", "b.jpg\n");
  const CaptionSet set = read_caption_set(dir.path().string());
  EXPECT_EQ(set.format, "flickr8k");
  EXPECT_EQ(image_names(set.train), (Words{"a.jpg", "c.jpg", "e.jpg"}));
  EXPECT_EQ(image_names(set.val), (Words{"d.jpg"}));
  EXPECT_EQ(image_names(set.test), (Words{"b.jpg"}));
  EXPECT_EQ(set.val[0].path, (dir.path() / "Flicker8k_Dataset" / "d.jpg").string());
  EXPECT_EQ(set.val[0].captions, (std::vector<Words>{{"a", "dog", "in", "d", ".", "jpg", "."},
                                                     {"the", "dog", "runs"}}));

  // The test split file is optional.
  fs::remove(dir.path() / "Flickr_8k.testImages.txt");
  EXPECT_TRUE(read_caption_set(dir.path().string()).test.empty());
}

TEST(CaptionSets, SplitsFlickr8kWithoutSplitFiles) {
  TempDir dir;
  // Windows line ends and the Images/ folder; 5 images: 3 train, 1 val, 1 test by name.
  write_flickr8k(dir.path(), {"e.jpg", "b.jpg", "d.jpg", "a.jpg", "c.jpg"}, "Images", "\r\n");
  const CaptionSet set = read_caption_set(dir.path().string());
  EXPECT_EQ(image_names(set.train), (Words{"a.jpg", "b.jpg", "c.jpg"}));
  EXPECT_EQ(image_names(set.val), (Words{"d.jpg"}));
  EXPECT_EQ(image_names(set.test), (Words{"e.jpg"}));
  EXPECT_EQ(set.test[0].path, (dir.path() / "Images" / "e.jpg").string());
  EXPECT_EQ(set.test[0].captions[1], (Words{"the", "dog", "runs"}));
}

TEST(CaptionSets, Flickr8kDefaultSplitSizes) {
  // 25 images: a tenth (2) each for val and test.
  {
    TempDir dir;
    Words names;
    for (int i = 0; i < 25; ++i) names.push_back("img" + std::to_string(100 + i) + ".jpg");
    write_flickr8k(dir.path(), names, "images");
    const CaptionSet set = read_caption_set(dir.path().string());
    EXPECT_EQ(set.train.size(), 21u);
    EXPECT_EQ(image_names(set.val), (Words{"img121.jpg", "img122.jpg"}));
    EXPECT_EQ(image_names(set.test), (Words{"img123.jpg", "img124.jpg"}));
  }
  // From 3000 images on: 1000 each.
  {
    TempDir dir;
    Words names;
    for (int i = 0; i < 3000; ++i) names.push_back(std::to_string(10000 + i) + ".jpg");
    write_flickr8k(dir.path(), names, "Flicker8k_Dataset");
    const CaptionSet set = read_caption_set(dir.path().string());
    EXPECT_EQ(set.train.size(), 1000u);
    EXPECT_EQ(set.val.size(), 1000u);
    EXPECT_EQ(set.test.size(), 1000u);
    EXPECT_EQ(image_names(set.val).front(), "11000.jpg");
    EXPECT_EQ(image_names(set.test).front(), "12000.jpg");
  }
}

TEST(CaptionSets, Flickr8kErrors) {
  {
    TempDir dir;
    write_flickr8k(dir.path(), {"a.jpg", "b.jpg"}, "Images");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "too few");
  }
  {
    TempDir dir;
    write_flickr8k(dir.path(), {"a.jpg", "b.jpg", "c.jpg"}, "Images");
    write_file(dir.path() / "Flickr8k.token.txt", "a.jpg#0\tA dog\nb.jpg A dog\n");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "line 2 of " + (dir.path() / "Flickr8k.token.txt").string() + " is not IMAGE#N<TAB>caption");
  }
  {
    TempDir dir;
    write_flickr8k(dir.path(), {"a.jpg", "b.jpg", "c.jpg"}, "photos");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kMissingInput, "Flicker8k_Dataset");
  }
  {
    TempDir dir;
    write_flickr8k(dir.path(), {"a.jpg", "b.jpg", "c.jpg"}, "Images");
    write_file(dir.path() / "Flickr_8k.trainImages.txt", "a.jpg\n");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kMissingInput, "Flickr_8k.devImages.txt");
  }
  {
    TempDir dir;
    write_flickr8k(dir.path(), {"a.jpg", "b.jpg", "c.jpg"}, "Images");
    write_file(dir.path() / "Flickr_8k.trainImages.txt", "a.jpg\nz.jpg\n");
    write_file(dir.path() / "Flickr_8k.devImages.txt", "b.jpg\n");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "line 2 of " + (dir.path() / "Flickr_8k.trainImages.txt").string() + " names z.jpg");
  }
  {
    TempDir dir;
    write_flickr8k(dir.path(), {"a.jpg", "b.jpg", "c.jpg"}, "Images");
    write_file(dir.path() / "Flickr_8k.trainImages.txt", "a.jpg\nb.jpg\n");
    write_file(dir.path() / "Flickr_8k.devImages.txt", "b.jpg\n");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "one split only");
  }
  {
    TempDir dir;
    write_flickr8k(dir.path(), {"a.jpg", "b.jpg", "c.jpg"}, "Images");
    fs::remove(dir.path() / "Images" / "b.jpg");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "image " + (dir.path() / "Images" / "b.jpg").string() + " listed in " +
                     (dir.path() / "Flickr8k.token.txt").string() + " does not exist");
  }
}

// --- Karpathy splits -------------------------------------------------------------------------

json karpathy_image(const std::string& filepath, const std::string& filename, const std::string& split,
                    const json& sentences) {
  json j = {{"filename", filename}, {"split", split}, {"sentences", sentences}, {"imgid", 0},
            {"sentids", {0}}};
  if (!filepath.empty()) j["filepath"] = filepath;
  return j;
}

TEST(CaptionSets, ReadsKarpathyCocoWithRestval) {
  TempDir dir;
  const json j = {
      {"dataset", "coco"},
      {"images",
       {karpathy_image("val2014", "v1.jpg", "test",
                       {{{"tokens", {"A", "man", "surfing"}}, {"raw", "A man, surfing."}}}),
        karpathy_image("train2014", "t1.jpg", "train",
                       {{{"tokens", {"two", "dogs"}}, {"raw", "Two dogs."}},
                        {{"raw", "Dogs PLAY."}}}),
        karpathy_image("val2014", "v2.jpg", "restval", {{{"tokens", json::array()}, {"raw", "A cat."}}}),
        karpathy_image("val2014", "v3.jpg", "val", {{{"tokens", {"a", "bus"}}}})}}};
  write_file(dir.path() / "dataset_coco.json", j.dump());
  for (const char* p : {"val2014/v1.jpg", "train2014/t1.jpg", "val2014/v2.jpg", "val2014/v3.jpg"}) {
    touch(dir.path() / p);
  }
  const CaptionSet set = read_caption_set(dir.path().string());
  EXPECT_EQ(set.format, "karpathy");
  EXPECT_EQ(set.location, dir.path().string());
  ASSERT_EQ(set.train.size(), 2u);  // train and restval, in the JSON's order
  EXPECT_EQ(set.train[0].path, (dir.path() / "train2014" / "t1.jpg").string());
  EXPECT_EQ(set.train[0].captions, (std::vector<Words>{{"two", "dogs"}, {"dogs", "play", "."}}));
  EXPECT_EQ(set.train[1].path, (dir.path() / "val2014" / "v2.jpg").string());
  EXPECT_EQ(set.train[1].captions, (std::vector<Words>{{"a", "cat", "."}}));
  ASSERT_EQ(set.val.size(), 1u);
  EXPECT_EQ(set.val[0].captions, (std::vector<Words>{{"a", "bus"}}));
  ASSERT_EQ(set.test.size(), 1u);
  EXPECT_EQ(set.test[0].path, (dir.path() / "val2014" / "v1.jpg").string());
  EXPECT_EQ(set.test[0].captions, (std::vector<Words>{{"a", "man", "surfing"}}));  // tokens, lower-cased

  // The .json file itself as the dataset path.
  const std::string file = (dir.path() / "dataset_coco.json").string();
  const CaptionSet same = read_caption_set(file);
  EXPECT_EQ(same.location, file);
  EXPECT_EQ(same.test[0].path, set.test[0].path);
}

TEST(CaptionSets, KarpathyFindsImagesInFlickrFolders) {
  TempDir dir;
  const json j = {{"images",
                   {karpathy_image("", "a.jpg", "train", {{{"tokens", {"a"}}}}),
                    karpathy_image("", "b.jpg", "val", {{{"tokens", {"b"}}}})}}};
  write_file(dir.path() / "dataset_flickr8k.json", j.dump());
  write_flickr8k(dir.path(), {"a.jpg", "b.jpg", "c.jpg"}, "Flicker8k_Dataset");
  // caption_datasets.zip unpacks all three files; the Flickr8k layout beside them picks one.
  write_file(dir.path() / "dataset_coco.json", "not read");
  write_file(dir.path() / "dataset_flickr30k.json", "not read");
  const CaptionSet set = read_caption_set(dir.path().string());
  EXPECT_EQ(set.format, "karpathy");
  EXPECT_EQ(set.train[0].path, (dir.path() / "Flicker8k_Dataset" / "a.jpg").string());
  EXPECT_EQ(set.val[0].path, (dir.path() / "Flicker8k_Dataset" / "b.jpg").string());
  EXPECT_TRUE(set.test.empty());

  fs::remove(dir.path() / "Flickr8k.token.txt");
  fs::rename(dir.path() / "Flicker8k_Dataset", dir.path() / "Images");
  expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kUsage, "several Karpathy split files");
  EXPECT_EQ(read_caption_set((dir.path() / "dataset_flickr8k.json").string()).val[0].path,
            (dir.path() / "Images" / "b.jpg").string());
}

TEST(CaptionSets, KarpathyErrors) {
  auto write = [](const fs::path& dir, const json& images) {
    write_file(dir / "dataset_flickr8k.json", json{{"images", images}}.dump());
    for (const char* name : {"a.jpg", "b.jpg", "c.jpg"}) touch(dir / "images" / name);
  };
  const json ok_val = karpathy_image("", "b.jpg", "val", {{{"raw", "b"}}});
  {
    TempDir dir;
    write(dir.path(), {karpathy_image("", "a.jpg", "holdout", {{{"raw", "a"}}}), ok_val});
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "images[0].split is \"holdout\"");
  }
  {
    TempDir dir;
    write(dir.path(), {karpathy_image("", "a.jpg", "train", {{{"sentid", 1}}}), ok_val});
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "images[0].sentences[0] has neither \"tokens\" nor \"raw\"");
  }
  {
    TempDir dir;
    write(dir.path(), {karpathy_image("", "a.jpg", "train", {{{"raw", " \t "}}}), ok_val});
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "a.jpg (images[0])");
  }
  {
    TempDir dir;
    write(dir.path(), {karpathy_image("", "a.jpg", "train", json::array()), ok_val});
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "has no caption");
  }
  {
    TempDir dir;
    write(dir.path(), json::array({karpathy_image("", "a.jpg", "train", {{{"raw", "a"}}})}));
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "has no val images");
  }
  {
    TempDir dir;
    write(dir.path(), {karpathy_image("", "a.jpg", "train", {{{"raw", "a"}}}), ok_val,
                       karpathy_image("", "x.jpg", "test", {{{"raw", "x"}}}),
                       karpathy_image("", "y.jpg", "test", {{{"raw", "y"}}})});
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData,
                 "2 of 4 images listed in " + (dir.path() / "dataset_flickr8k.json").string() +
                     " are missing, e.g. " + (dir.path() / "x.jpg").string());
  }
  {
    TempDir dir;
    write_file(dir.path() / "dataset_flickr30k.json", "{\"images\": [}");
    expect_error([&] { read_caption_set(dir.path().string()); }, ErrorKind::kBadData, "malformed JSON in");
    write_file(dir.path() / "notes.txt", "x");
    expect_error([&] { read_caption_set((dir.path() / "notes.txt").string()); }, ErrorKind::kBadData,
                 "not a .json file");
  }
}

// --- the vocabulary --------------------------------------------------------------------------

std::vector<CaptionImage> vocabulary_captions() {
  return {
      {"a.jpg", {{"a", "dog", "runs"}, {"a", "dog"}}},
      {"b.jpg", {{"a", "cat", "sits"}, {"the", "cat", "<end>"}}},
      {"c.jpg", {{"the", "bird"}}},
  };
}

TEST(CaptionVocabularyTest, SpecialsOnlyByDefault) {
  const CaptionVocabulary vocab;
  EXPECT_EQ(vocab.size(), 4);
  EXPECT_EQ(vocab.word(CaptionVocabulary::kPad), "<pad>");
  EXPECT_EQ(vocab.word(CaptionVocabulary::kStart), "<start>");
  EXPECT_EQ(vocab.word(CaptionVocabulary::kEnd), "<end>");
  EXPECT_EQ(vocab.word(CaptionVocabulary::kUnk), "<unk>");
  EXPECT_EQ(vocab.id("dog"), CaptionVocabulary::kUnk);
  expect_error([&] { vocab.word(4); }, ErrorKind::kInternal, "caption word id 4");
  expect_error([&] { vocab.word(-1); }, ErrorKind::kInternal, "caption word id -1");
}

TEST(CaptionVocabularyTest, OrdersByCountThenAlphabet) {
  const auto all = CaptionVocabulary::build(vocabulary_captions(), 1);
  // a x3; cat, dog, the x2; bird, runs, sits x1. The caption's "<end>" is no word of its own.
  EXPECT_EQ(all.words(), (Words{"<pad>", "<start>", "<end>", "<unk>", "a", "cat", "dog", "the", "bird",
                                "runs", "sits"}));
  const auto frequent = CaptionVocabulary::build(vocabulary_captions(), 2);
  EXPECT_EQ(frequent.words(), (Words{"<pad>", "<start>", "<end>", "<unk>", "a", "cat", "dog", "the"}));
  EXPECT_EQ(frequent.id("a"), 4);
  EXPECT_EQ(frequent.id("the"), 7);
  EXPECT_EQ(frequent.id("bird"), CaptionVocabulary::kUnk);
  EXPECT_EQ(frequent.id("zebra"), CaptionVocabulary::kUnk);
  EXPECT_EQ(frequent.id("<end>"), CaptionVocabulary::kUnk);
  EXPECT_EQ(frequent.id("<pad>"), CaptionVocabulary::kUnk);
  EXPECT_EQ(CaptionVocabulary::build({}, 1).size(), 4);
  expect_error([] { CaptionVocabulary::build({}, 0); }, ErrorKind::kUsage, "at least 1");
}

TEST(CaptionVocabularyTest, EncodesAndDecodes) {
  const auto vocab = CaptionVocabulary::build(vocabulary_captions(), 2);
  const Words caption{"the", "dog", "sees", "a", "cat"};
  const std::vector<int64_t> ids = vocab.encode(caption);
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 7, 6, 3, 4, 5, 2}));
  EXPECT_EQ(vocab.decode(ids), (Words{"the", "dog", "<unk>", "a", "cat"}));
  EXPECT_EQ(join_words(vocab.decode(ids)), "the dog <unk> a cat");
  EXPECT_EQ(vocab.encode(caption, 2), (std::vector<int64_t>{1, 7, 6, 2}));
  EXPECT_EQ(vocab.encode(caption, 9), ids);
  EXPECT_EQ(vocab.encode({}), (std::vector<int64_t>{1, 2}));
  expect_error([&] { vocab.encode(caption, -1); }, ErrorKind::kUsage, "got -1");

  // Decoding stops at the first <end> and skips <start> and <pad>.
  EXPECT_EQ(vocab.decode({1, 4, 0, 5, 2, 6, 6}), (Words{"a", "cat"}));
  EXPECT_EQ(vocab.decode({4, 5}), (Words{"a", "cat"}));
  EXPECT_TRUE(vocab.decode({2, 4}).empty());
  expect_error([&] { vocab.decode({1, 99}); }, ErrorKind::kInternal, "99");
  EXPECT_EQ(join_words({}), "");
  EXPECT_EQ(join_words({"one"}), "one");
}

TEST(CaptionVocabularyTest, JsonRoundTrip) {
  const auto vocab = CaptionVocabulary::build(vocabulary_captions(), 1);
  const json j = vocab.to_json();
  EXPECT_EQ(j.at("words").size(), 11u);
  EXPECT_EQ(j.at("words")[4], "a");
  const auto back = CaptionVocabulary::from_json(json::parse(j.dump()));
  EXPECT_EQ(back.words(), vocab.words());
  EXPECT_EQ(back.id("sits"), vocab.id("sits"));
  EXPECT_EQ(CaptionVocabulary::from_json(CaptionVocabulary().to_json()).size(), 4);

  expect_error([] { CaptionVocabulary::from_json(json::array({"<pad>"})); }, ErrorKind::kBadData,
               "{\"words\": [...]}");
  expect_error([] { CaptionVocabulary::from_json({{"words", {"<pad>", "<end>", "<start>", "<unk>"}}}); },
               ErrorKind::kBadData, "word 1 is \"<end>\", not \"<start>\"");
  expect_error([] { CaptionVocabulary::from_json({{"words", {"<pad>", "<start>"}}}); }, ErrorKind::kBadData,
               "fewer than its 4 special tokens");
  const json specials = {"<pad>", "<start>", "<end>", "<unk>"};
  auto with = [&](const json& extra) {
    json words = specials;
    words.push_back(extra);
    return json{{"words", words}};
  };
  expect_error([&] { CaptionVocabulary::from_json(with("<start>")); }, ErrorKind::kBadData,
               "repeats \"<start>\"");
  expect_error([&] { CaptionVocabulary::from_json(with(5)); }, ErrorKind::kBadData, "word 4 is 5");
  expect_error([&] { CaptionVocabulary::from_json(with("")); }, ErrorKind::kBadData, "not a non-empty string");
}

}  // namespace
}  // namespace zoo
