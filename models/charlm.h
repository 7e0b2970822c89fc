// The character-level language model (Karpathy's char-rnn, "The Unreasonable Effectiveness of
// Recurrent Neural Networks", 2015; Graves, "Generating Sequences With Recurrent Neural
// Networks", 2013): an embedding of each character, a stack of recurrent layers (LSTM, GRU or
// the vanilla tanh RNN) with dropout between them, and a linear layer to the next character's
// logits. LibTorch's own recurrent modules do the work, so the weights are PyTorch's: the
// state dict of nn.Embedding "embed", nn.LSTM/GRU/RNN "rnn" (batch_first) and nn.Linear "head"
// loads into the same Python model unchanged.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace zoo {

struct CharLmOptions {
  int64_t vocab_size = 0;
  std::string cell = "lstm";  // lstm | gru | rnn (tanh)
  int64_t embed = 64;         // embedding width
  int64_t hidden = 256;       // recurrent state width
  int64_t layers = 2;
  double dropout = 0.0;       // between recurrent layers (none after the last)
};

nlohmann::json to_json(const CharLmOptions& o);
CharLmOptions char_lm_options_from_json(const nlohmann::json& j);
// Throws usage_error naming the flag (--cell, --hidden, ...) for a value out of range.
void validate(const CharLmOptions& o);

// The recurrent state: h (layers x B x hidden) and, for the LSTM, the cell state c.
struct RnnState {
  torch::Tensor h;
  torch::Tensor c;  // undefined for GRU and RNN
  bool defined() const { return h.defined(); }
  RnnState detach() const { return {h.detach(), c.defined() ? c.detach() : c}; }
};

class CharLmImpl : public torch::nn::Module {
 public:
  explicit CharLmImpl(const CharLmOptions& options);

  // B x T token ids and the state before them (undefined: zeros) -> B x T x vocab logits and
  // the state after them.
  std::pair<torch::Tensor, RnnState> forward(const torch::Tensor& tokens, const RnnState& state = {});
  // Zeros for `batch` streams, on the model's device.
  RnnState initial_state(int64_t batch) const;

  const CharLmOptions& options() const { return options_; }

 private:
  CharLmOptions options_;
  torch::nn::Embedding embed_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::GRU gru_{nullptr};
  torch::nn::RNN rnn_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(CharLm);

// Parameters and multiply-adds per character of a model (embedding lookups are free).
int64_t char_lm_parameters(const CharLmOptions& o);
int64_t char_lm_macs_per_char(const CharLmOptions& o);

}  // namespace zoo
