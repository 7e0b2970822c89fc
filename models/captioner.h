// The image captioner: a zoo CNN encodes the image, an LSTM writes the caption word by word.
//
// Encoder: any zoo classifier (`backbone`), run stage by stage up to its last spatial feature
// map (ResNet: layer4, N x 512 x H/32 x W/32); its mean over positions is the image vector.
// The classifier's own head is kept in the module (so its weight files load unchanged) but
// never run. Parameter names: "encoder.<torchvision names>".
//
// Decoder, two forms (Vinyals et al., "Show and Tell", CVPR 2015; Xu et al., "Show, Attend and
// Tell", ICML 2015):
// - Show and Tell (default): the image vector, projected to the word-embedding width
//   ("image_embed"), is the LSTM's first input; then <start>, w1, ... wn; the outputs after
//   <start> .. wn predict w1 .. wn <end>. A stack of `layers` LSTMs ("lstm", nn::LSTM) with
//   dropout between them; "embed" the word embedding; "head" the output layer after dropout.
// - Show, Attend and Tell (`attention`): the LSTM state starts from the mean feature
//   ("init_h", "init_c", tanh); at each step soft attention over the L positions of the map
//   (alpha = softmax(score(tanh(att_feat(f) + att_hidden(h))))) gives a context vector, gated by
//   sigmoid(beta(h)), fed with the word embedding into a stack of LSTM cells ("cells.K"). The
//   attention weights are returned per step for visualisation.
#pragma once

#include "models/classifier.h"

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include <array>
#include <cstdint>
#include <tuple>
#include <string>
#include <vector>

namespace zoo {

struct CaptionerOptions {
  int64_t vocab_size = 0;
  std::string backbone = "resnet18";
  int64_t backbone_classes = 1000;  // the backbone's own (unused) head, as its weights have it
  bool transform_input = false;     // GoogLeNet backbone from torchvision's weights
  int64_t in_channels = 3;
  int64_t input_size = 224;         // the image side the encoder is built for
  int64_t embed = 256;
  int64_t hidden = 512;
  int64_t layers = 1;
  double dropout = 0.3;
  bool attention = false;
  int64_t attention_dim = 256;
};

nlohmann::json to_json(const CaptionerOptions& o);
CaptionerOptions captioner_options_from_json(const nlohmann::json& j);
// Throws usage_error naming the flag for a value out of range or a backbone that is not a
// zoo image classifier.
void validate(const CaptionerOptions& o);

// What the encoder gives the decoder.
struct ImageFeatures {
  torch::Tensor map;     // N x L x D: the last spatial feature map, positions flattened
  torch::Tensor pooled;  // N x D: its mean over positions
  torch::Tensor projected;  // N x L x A: att_feat(map), computed once per image (attention only)
  int64_t height = 1, width = 1;  // the map's spatial size (L = height x width)
};

// The decoder's recurrent state between steps.
struct DecoderState {
  torch::Tensor h, c;  // layers x N x hidden
};

class CaptionerImpl : public torch::nn::Module {
 public:
  CaptionerImpl(const CaptionerOptions& options, Classifier backbone);

  ImageFeatures encode(const torch::Tensor& images);
  // Teacher forcing: images N x C x H x W, tokens N x T (<start> w1 .. w_{T-1}) -> logits
  // N x T x V predicting w1 .. w_T.
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& tokens);
  torch::Tensor forward_features(const ImageFeatures& features, const torch::Tensor& tokens);
  // Step by step (inference): the state before the first word (Show and Tell: after the image
  // step), then one step: tokens N -> log-probabilities N x V, the next state, and the
  // attention weights N x L (undefined without attention).
  DecoderState start(const ImageFeatures& features);
  std::tuple<torch::Tensor, DecoderState, torch::Tensor> step(const ImageFeatures& features,
                                                              const torch::Tensor& tokens,
                                                              const DecoderState& state);

  const CaptionerOptions& options() const { return options_; }
  Classifier backbone() const { return encoder_; }
  // Parameter-name prefixes of the decoder (everything but "encoder"): the trainer's "head",
  // so `--freeze backbone` freezes the encoder.
  std::vector<std::string> decoder_prefixes() const;

 private:
  // One attention step: context N x D (gated) and weights N x L for the state's top h.
  std::pair<torch::Tensor, torch::Tensor> attend(const ImageFeatures& features, const torch::Tensor& h);
  // One step of the attention decoder's cell stack on word embeddings N x E: the top layer's
  // output N x H, the next state and the attention weights.
  std::tuple<torch::Tensor, DecoderState, torch::Tensor> cell_step(const ImageFeatures& features,
                                                                   const torch::Tensor& words,
                                                                   const DecoderState& state);

  CaptionerOptions options_;
  Classifier encoder_;
  int64_t feature_dim_ = 0;
  torch::nn::Embedding embed_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear head_{nullptr};
  // Show and Tell
  torch::nn::Linear image_embed_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  // Show, Attend and Tell
  torch::nn::Linear init_h_{nullptr}, init_c_{nullptr};
  torch::nn::Linear att_feat_{nullptr}, att_hidden_{nullptr}, att_score_{nullptr}, beta_{nullptr};
  torch::nn::ModuleList cells_{nullptr};
};
TORCH_MODULE(Captioner);

// Multiply-adds of the decoder: once per image (Show and Tell: the image projection and LSTM
// step; attention: the initial state and the feature projection), and per word written.
struct CaptionerMacs {
  int64_t per_image = 0;
  int64_t per_word = 0;
};
CaptionerMacs captioner_decoder_macs(const CaptionerOptions& o, int64_t feature_dim, int64_t positions);

// The feature width (D) and map size a backbone gives at `input_size`, by running it once on
// zeros.
std::array<int64_t, 3> backbone_feature_shape(ClassifierImpl& backbone, int64_t in_channels, int64_t input_size);

}  // namespace zoo
