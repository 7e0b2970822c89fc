// The image captioner; see captioner.h.
#include "models/captioner.h"

#include "common/error.h"
#include "common/json_text.h"
#include "models/registry.h"

#include <torch/nn/functional/activation.h>
#include <torch/utils.h>

namespace zoo {

namespace nn = torch::nn;

nlohmann::json to_json(const CaptionerOptions& o) {
  return {{"vocab_size", o.vocab_size}, {"backbone", o.backbone},   {"backbone_classes", o.backbone_classes}, {"transform_input", o.transform_input},
          {"in_channels", o.in_channels}, {"input_size", o.input_size}, {"embed", o.embed},
          {"hidden", o.hidden},         {"layers", o.layers},       {"dropout", o.dropout},
          {"attention", o.attention},   {"attention_dim", o.attention_dim}};
}

CaptionerOptions captioner_options_from_json(const nlohmann::json& j) {
  CaptionerOptions o;
  o.vocab_size = integer_option(j, "vocab_size", "captioner");
  o.backbone = j.at("backbone").get<std::string>();
  o.backbone_classes = integer_option(j, "backbone_classes", "captioner", o.backbone_classes);
  o.transform_input = j.value("transform_input", o.transform_input);
  o.in_channels = integer_option(j, "in_channels", "captioner", o.in_channels);
  o.input_size = integer_option(j, "input_size", "captioner", o.input_size);
  o.embed = integer_option(j, "embed", "captioner", o.embed);
  o.hidden = integer_option(j, "hidden", "captioner", o.hidden);
  o.layers = integer_option(j, "layers", "captioner", o.layers);
  o.dropout = j.value("dropout", o.dropout);
  o.attention = j.value("attention", o.attention);
  o.attention_dim = integer_option(j, "attention_dim", "captioner", o.attention_dim);
  return o;
}

void validate(const CaptionerOptions& o) {
  find_classifier(o.backbone, "--backbone");
  if (o.vocab_size < 5) throw usage_error("the caption vocabulary has " + std::to_string(o.vocab_size) + " entries; HINT: lower --min-word-count");
  if (o.embed < 1) throw usage_error("--embed must be positive, got " + std::to_string(o.embed));
  if (o.hidden < 1) throw usage_error("--hidden must be positive, got " + std::to_string(o.hidden));
  if (o.layers < 1 || o.layers > 8) throw usage_error("--layers must be 1 to 8, got " + std::to_string(o.layers));
  if (o.dropout < 0 || o.dropout >= 1) throw usage_error("--dropout must be in [0, 1), got " + std::to_string(o.dropout));
  if (o.attention_dim < 1) throw usage_error("--attention-dim must be positive");
}

namespace {

// Runs the backbone's stages until its output stops being a feature map; the last map with
// more than one position (else the last map) is the encoder's output.
ImageFeatures run_encoder(ClassifierImpl& backbone, torch::Tensor x) {
  torch::Tensor map;
  for (const auto& stage : backbone.stages()) {
    x = stage.run(x);
    if (x.dim() != 4) break;
    if (!map.defined() || x.size(2) * x.size(3) > 1) map = x;
  }
  if (!map.defined()) throw internal_error("the backbone produced no feature map");
  ImageFeatures f;
  f.height = map.size(2);
  f.width = map.size(3);
  f.map = map.flatten(2).transpose(1, 2).contiguous();  // N x L x D
  f.pooled = f.map.mean(1);                              // N x D
  return f;
}

}  // namespace

std::array<int64_t, 3> backbone_feature_shape(ClassifierImpl& backbone, int64_t in_channels, int64_t input_size) {
  torch::NoGradGuard no_grad;
  const bool training = backbone.is_training();
  backbone.eval();
  const ImageFeatures f = run_encoder(backbone, torch::zeros({1, in_channels, input_size, input_size}));
  backbone.train(training);
  return {f.map.size(2), f.height, f.width};
}

CaptionerImpl::CaptionerImpl(const CaptionerOptions& options, Classifier backbone)
    : options_(options), encoder_(std::move(backbone)) {
  validate(options_);
  register_module("encoder", encoder_);
  feature_dim_ = backbone_feature_shape(*encoder_, options_.in_channels, options_.input_size)[0];
  const int64_t V = options_.vocab_size, E = options_.embed, H = options_.hidden, L = options_.layers;
  embed_ = register_module("embed", nn::Embedding(V, E));
  dropout_ = register_module("dropout", nn::Dropout(options_.dropout));
  if (!options_.attention) {
    image_embed_ = register_module("image_embed", nn::Linear(feature_dim_, E));
    lstm_ = register_module("lstm", nn::LSTM(nn::LSTMOptions(E, H).num_layers(L).batch_first(true)
                                                 .dropout(L > 1 ? options_.dropout : 0.0)));
  } else {
    init_h_ = register_module("init_h", nn::Linear(feature_dim_, H * L));
    init_c_ = register_module("init_c", nn::Linear(feature_dim_, H * L));
    att_feat_ = register_module("att_feat", nn::Linear(feature_dim_, options_.attention_dim));
    att_hidden_ = register_module("att_hidden", nn::Linear(H, options_.attention_dim));
    att_score_ = register_module("att_score", nn::Linear(options_.attention_dim, 1));
    beta_ = register_module("beta", nn::Linear(H, feature_dim_));
    cells_ = register_module("cells", nn::ModuleList());
    for (int64_t k = 0; k < L; ++k) cells_->push_back(nn::LSTMCell(k == 0 ? E + feature_dim_ : H, H));
  }
  head_ = register_module("head", nn::Linear(H, V));
}

std::vector<std::string> CaptionerImpl::decoder_prefixes() const {
  std::vector<std::string> out;
  for (const auto& item : named_children()) {
    if (item.key() != "encoder") out.push_back(item.key());
  }
  return out;
}

ImageFeatures CaptionerImpl::encode(const torch::Tensor& images) {
  ImageFeatures f = run_encoder(*encoder_, images);
  if (options_.attention) f.projected = att_feat_(f.map);  // N x L x A
  return f;
}

CaptionerMacs captioner_decoder_macs(const CaptionerOptions& o, int64_t D, int64_t L) {
  const int64_t E = o.embed, H = o.hidden, A = o.attention_dim, V = o.vocab_size;
  CaptionerMacs m;
  int64_t cells = 0;  // one step of the LSTM stack
  for (int64_t k = 0; k < o.layers; ++k) {
    const int64_t in = k > 0 ? H : (o.attention ? E + D : E);
    cells += 4 * H * (in + H);
  }
  if (!o.attention) {
    m.per_image = D * E + cells;  // image_embed and the image step
    m.per_word = cells + H * V;
  } else {
    m.per_image = 2 * D * H * o.layers + L * D * A;  // init_h, init_c, att_feat
    m.per_word = H * A + L * A + H * D + L * D + cells + H * V;  // attention, gate, context, cells, head
  }
  return m;
}

std::pair<torch::Tensor, torch::Tensor> CaptionerImpl::attend(const ImageFeatures& f, const torch::Tensor& h) {
  // f.map N x L x D, h N x H
  const torch::Tensor projected = f.projected.defined() ? f.projected : att_feat_(f.map);  // N x L x A
  const torch::Tensor scores = att_score_(torch::tanh(projected + att_hidden_(h).unsqueeze(1))).squeeze(2);  // N x L
  const torch::Tensor alpha = torch::softmax(scores, 1);                                   // N x L
  const torch::Tensor context = (alpha.unsqueeze(2) * f.map).sum(1);                       // N x D
  return {torch::sigmoid(beta_(h)) * context, alpha};
}

std::tuple<torch::Tensor, DecoderState, torch::Tensor> CaptionerImpl::cell_step(const ImageFeatures& f,
                                                                                const torch::Tensor& words,
                                                                                const DecoderState& state) {
  auto [context, alpha] = attend(f, state.h[options_.layers - 1]);
  torch::Tensor x = torch::cat({words, context}, 1);  // N x (E + D)
  std::vector<torch::Tensor> hs, cs;
  for (int64_t k = 0; k < options_.layers; ++k) {
    auto [h, c] = cells_[k]->as<nn::LSTMCell>()->forward(x, std::make_tuple(state.h[k], state.c[k]));
    hs.push_back(h);
    cs.push_back(c);
    x = k + 1 < options_.layers ? dropout_(h) : h;
  }
  return {x, {torch::stack(hs), torch::stack(cs)}, alpha};
}

DecoderState CaptionerImpl::start(const ImageFeatures& f) {
  const int64_t N = f.pooled.size(0), L = options_.layers, H = options_.hidden;
  if (!options_.attention) {
    auto [out, hc] = lstm_->forward(image_embed_(f.pooled).unsqueeze(1));  // the image step
    return {std::get<0>(hc), std::get<1>(hc)};
  }
  // layers x N x H
  auto h = torch::tanh(init_h_(f.pooled)).view({N, L, H}).transpose(0, 1).contiguous();
  auto c = torch::tanh(init_c_(f.pooled)).view({N, L, H}).transpose(0, 1).contiguous();
  return {h, c};
}

std::tuple<torch::Tensor, DecoderState, torch::Tensor> CaptionerImpl::step(const ImageFeatures& f,
                                                                           const torch::Tensor& tokens,
                                                                           const DecoderState& state) {
  const torch::Tensor words = embed_(tokens);  // N x E
  if (!options_.attention) {
    auto [out, hc] = lstm_->forward(words.unsqueeze(1), std::make_tuple(state.h, state.c));
    const torch::Tensor logits = head_(dropout_(out.select(1, 0)));  // N x V
    return {torch::log_softmax(logits, 1), {std::get<0>(hc), std::get<1>(hc)}, torch::Tensor()};
  }
  auto [top, next, alpha] = cell_step(f, words, state);
  return {torch::log_softmax(head_(dropout_(top)), 1), next, alpha};
}

torch::Tensor CaptionerImpl::forward_features(const ImageFeatures& f, const torch::Tensor& tokens) {
  if (!options_.attention) {
    // [image, <start>, w1 .. w_{T-1}] -> outputs after <start> .. w_{T-1}
    const torch::Tensor inputs = torch::cat({image_embed_(f.pooled).unsqueeze(1), embed_(tokens)}, 1);
    auto [out, hc] = lstm_->forward(inputs);                        // N x (T+1) x H
    return head_(dropout_(out.slice(1, 1, out.size(1))));          // N x T x V
  }
  const int64_t T = tokens.size(1);
  DecoderState state = start(f);
  const torch::Tensor words = embed_(tokens);  // N x T x E
  std::vector<torch::Tensor> outputs;
  outputs.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    auto [top, next, alpha] = cell_step(f, words.select(1, t), state);
    state = next;
    outputs.push_back(top);
  }
  return head_(dropout_(torch::stack(outputs, 1)));  // N x T x V
}

torch::Tensor CaptionerImpl::forward(const torch::Tensor& images, const torch::Tensor& tokens) {
  return forward_features(encode(images), tokens);
}

}  // namespace zoo
