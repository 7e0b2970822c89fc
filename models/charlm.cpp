// The character-level language model (charlm.h).
#include "models/charlm.h"

#include "common/error.h"
#include "common/json_text.h"

namespace zoo {

nlohmann::json to_json(const CharLmOptions& o) {
  return {{"vocab_size", o.vocab_size}, {"cell", o.cell},     {"embed", o.embed},
          {"hidden", o.hidden},         {"layers", o.layers}, {"dropout", o.dropout}};
}

CharLmOptions char_lm_options_from_json(const nlohmann::json& j) {
  CharLmOptions o;
  o.vocab_size = integer_option(j, "vocab_size", "charlm");
  o.cell = j.at("cell").get<std::string>();
  o.embed = integer_option(j, "embed", "charlm");
  o.hidden = integer_option(j, "hidden", "charlm");
  o.layers = integer_option(j, "layers", "charlm");
  o.dropout = j.at("dropout").get<double>();
  return o;
}

void validate(const CharLmOptions& o) {
  if (o.cell != "lstm" && o.cell != "gru" && o.cell != "rnn") {
    throw usage_error("--cell must be lstm, gru or rnn, got '" + o.cell + "'");
  }
  if (o.vocab_size < 1) throw usage_error("a character model needs a vocabulary of at least one character");
  if (o.embed < 1) throw usage_error("--embed must be positive, got " + std::to_string(o.embed));
  if (o.hidden < 1) throw usage_error("--hidden must be positive, got " + std::to_string(o.hidden));
  if (o.layers < 1) throw usage_error("--layers must be positive, got " + std::to_string(o.layers));
  if (o.dropout < 0.0 || o.dropout >= 1.0) {
    throw usage_error("--dropout must be in [0, 1), got " + std::to_string(o.dropout));
  }
}

CharLmImpl::CharLmImpl(const CharLmOptions& options) : options_(options) {
  validate(options_);
  embed_ = register_module("embed", torch::nn::Embedding(options_.vocab_size, options_.embed));
  // LibTorch warns when dropout is set on a single layer (it would never apply).
  const double dropout = options_.layers > 1 ? options_.dropout : 0.0;
  if (options_.cell == "lstm") {
    lstm_ = register_module("rnn", torch::nn::LSTM(torch::nn::LSTMOptions(options_.embed, options_.hidden)
                                                       .num_layers(options_.layers)
                                                       .dropout(dropout)
                                                       .batch_first(true)));
  } else if (options_.cell == "gru") {
    gru_ = register_module("rnn", torch::nn::GRU(torch::nn::GRUOptions(options_.embed, options_.hidden)
                                                     .num_layers(options_.layers)
                                                     .dropout(dropout)
                                                     .batch_first(true)));
  } else {
    rnn_ = register_module("rnn", torch::nn::RNN(torch::nn::RNNOptions(options_.embed, options_.hidden)
                                                     .num_layers(options_.layers)
                                                     .nonlinearity(torch::kTanh)
                                                     .dropout(dropout)
                                                     .batch_first(true)));
  }
  head_ = register_module("head", torch::nn::Linear(options_.hidden, options_.vocab_size));
}

RnnState CharLmImpl::initial_state(int64_t batch) const {
  const auto like = embed_->weight;
  RnnState s;
  s.h = torch::zeros({options_.layers, batch, options_.hidden}, like.options());
  if (options_.cell == "lstm") s.c = torch::zeros_like(s.h);
  return s;
}

std::pair<torch::Tensor, RnnState> CharLmImpl::forward(const torch::Tensor& tokens, const RnnState& state) {
  const RnnState s = state.defined() ? state : initial_state(tokens.size(0));
  torch::Tensor x = embed_->forward(tokens);  // B x T x embed
  torch::Tensor out;                          // B x T x hidden
  RnnState next;
  if (lstm_) {
    auto [y, hc] = lstm_->forward(x, std::make_tuple(s.h, s.c));
    out = y;
    next = {std::get<0>(hc), std::get<1>(hc)};
  } else if (gru_) {
    auto [y, h] = gru_->forward(x, s.h);
    out = y;
    next.h = h;
  } else {
    auto [y, h] = rnn_->forward(x, s.h);
    out = y;
    next.h = h;
  }
  return {head_->forward(out), next};  // B x T x vocab
}

namespace {

int64_t gates(const std::string& cell) { return cell == "lstm" ? 4 : cell == "gru" ? 3 : 1; }

}  // namespace

int64_t char_lm_parameters(const CharLmOptions& o) {
  const int64_t g = gates(o.cell) * o.hidden;
  int64_t n = o.vocab_size * o.embed;
  for (int64_t l = 0; l < o.layers; ++l) n += g * ((l == 0 ? o.embed : o.hidden) + o.hidden) + 2 * g;
  return n + o.hidden * o.vocab_size + o.vocab_size;
}

int64_t char_lm_macs_per_char(const CharLmOptions& o) {
  const int64_t g = gates(o.cell) * o.hidden;
  int64_t n = 0;
  for (int64_t l = 0; l < o.layers; ++l) n += g * ((l == 0 ? o.embed : o.hidden) + o.hidden);
  return n + o.hidden * o.vocab_size;
}

}  // namespace zoo
