// TrainConfig's JSON form and validation; see train_config.h.
#include "app/engine/train_config.h"

#include "common/error.h"
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace zoo {

// Every TrainConfig field, in declaration order (the JSON keys; more than nlohmann's
// 64-field macro takes).
#define ZOO_TRAIN_CONFIG_FIELDS(X) \
    X(model) X(data) X(input_size) X(augment) X(val_split) X(drop_last) X(aux_logits) \
    X(in_channels) X(dropout) X(cell) X(embed) X(hidden) X(layers) X(seq_len) X(text_ext) \
    X(utf8_errors) X(backbone) X(backbone_weights) X(attention) X(attention_dim) X(min_word_count) \
    X(max_caption_len) X(weights) X(freeze) X(train) X(bn_train) X(head_lr) X(unfreeze_at) \
    X(unfrozen_lr_mult) X(cache_features) X(epochs) X(batch_size) X(accumulate) X(max_steps) \
    X(limit_batches) X(limit_val_batches) X(patience) X(optimizer) X(lr) X(momentum) X(nesterov) \
    X(beta1) X(beta2) X(alpha) X(eps) X(weight_decay) X(wd_skip_norm_bias) X(label_smoothing) \
    X(clip_grad_norm) X(schedule) X(warmup_epochs) X(warmup_factor) X(min_lr) X(step_size) \
    X(milestones) X(gamma) X(plateau_patience) X(onecycle_pct) X(precision) X(channels_last) \
    X(device) X(threads) X(workers) X(seed) X(deterministic) X(dist_backend) X(bucket_mb) \
    X(sync_bn) X(dist_timeout) X(best_metric) X(save_every) \
    X(log_every) X(name) X(runs_dir) X(quiet)

nlohmann::json to_json(const TrainConfig& c) {
  nlohmann::json j = nlohmann::json::object();
#define ZOO_TO_JSON(field) j[#field] = c.field;
  ZOO_TRAIN_CONFIG_FIELDS(ZOO_TO_JSON)
#undef ZOO_TO_JSON
  return j;
}

namespace {

// One field from `j` (the default when absent), its JSON type checked first: a value of the
// wrong type, or an integer out of the field's range (1e300 for an int64), is a usage error
// naming the flag, never a conversion with undefined behaviour.
template <typename T>
void read_field(const nlohmann::json& j, const char* key, T* out) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  const nlohmann::json& v = *it;
  auto wrong = [&](const char* expected) {
    return usage_error(flag_of(key) + " must be " + expected + ", got " + v.dump().substr(0, 60));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw wrong("true or false");
    *out = v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                      : v.is_number_integer()
                          ? v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                (v.get<int64_t>() < 0 || static_cast<uint64_t>(v.get<int64_t>()) <=
                                                              static_cast<uint64_t>(std::numeric_limits<T>::max()))
                          : v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>() &&
                                v.get<double>() >= static_cast<double>(std::numeric_limits<T>::min()) &&
                                v.get<double>() < static_cast<double>(std::numeric_limits<T>::max());
    if (!fits) throw wrong(std::is_signed_v<T> ? "an integer in range" : "a non-negative integer in range");
    *out = v.is_number_unsigned() ? static_cast<T>(v.get<uint64_t>())
           : v.is_number_integer() ? static_cast<T>(v.get<int64_t>())
                                   : static_cast<T>(v.get<double>());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) throw wrong("a number");
    *out = v.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw wrong("a string");
    *out = v.get<std::string>();
  } else {  // a list
    if (!v.is_array()) throw wrong("a list");
    T list;
    for (size_t i = 0; i < v.size(); ++i) {
      typename T::value_type item{};
      read_field(nlohmann::json{{key, v[i]}}, key, &item);
      list.push_back(std::move(item));
    }
    *out = std::move(list);
  }
}

}  // namespace

TrainConfig train_config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw usage_error("a configuration must be a JSON object, got " + j.dump().substr(0, 60));
  TrainConfig c;
#define ZOO_FROM_JSON(field) read_field(j, #field, &c.field);
  ZOO_TRAIN_CONFIG_FIELDS(ZOO_FROM_JSON)
#undef ZOO_FROM_JSON
  return c;
}

namespace {

std::string str(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool one_of(const std::string& v, std::initializer_list<const char*> choices) {
  return std::any_of(choices.begin(), choices.end(), [&](const char* c) { return v == c; });
}

}  // namespace

std::string flag_of(const std::string& key) {
  std::string flag = "--" + key;
  for (auto& ch : flag) ch = ch == '_' ? '-' : ch;
  return flag;
}

void validate(const TrainConfig& c) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw usage_error(what);
  };
  auto positive = [&](int64_t v, const char* flag) {
    require(v > 0, std::string(flag) + " must be positive, got " + std::to_string(v));
  };
  auto non_negative = [&](double v, const char* flag) {
    require(v >= 0 && std::isfinite(v), std::string(flag) + " must be 0 or more, got " + str(v));
  };
  positive(c.epochs, "--epochs");
  positive(c.batch_size, "--batch-size");
  positive(c.accumulate, "--accumulate");
  positive(c.log_every, "--log-every");
  positive(c.step_size, "--step-size");
  positive(c.plateau_patience, "--plateau-patience");
  for (auto [v, flag] : {std::pair{double(c.max_steps), "--max-steps"},
                         {double(c.limit_batches), "--limit-batches"},
                         {double(c.limit_val_batches), "--limit-val-batches"},
                         {double(c.patience), "--patience"},
                         {double(c.save_every), "--save-every"},
                         {c.weight_decay, "--weight-decay"},
                         {c.clip_grad_norm, "--clip-grad-norm"},
                         {c.warmup_epochs, "--warmup-epochs"},
                         {c.min_lr, "--min-lr"},
                         {double(c.threads), "--threads"},
                         {double(c.workers), "--workers"},
                         {double(c.input_size), "--input-size"},
                         {c.head_lr, "--head-lr"},
                         {double(c.unfreeze_at), "--unfreeze-at"}}) {
    non_negative(v, flag);
  }
  require(c.bucket_mb > 0 && c.bucket_mb <= 4096, "--bucket-mb must be in (0, 4096], got " + str(c.bucket_mb));
  require(c.dist_timeout > 0, "--dist-timeout must be positive (seconds), got " + std::to_string(c.dist_timeout));
  require(one_of(c.dist_backend, {"auto", "gloo", "nccl"}),
          "--dist-backend must be auto, gloo or nccl, got '" + c.dist_backend + "'");
  require(c.lr > 0 && std::isfinite(c.lr), "--lr must be a positive number, got " + str(c.lr));
  require(c.min_lr < c.lr, "--min-lr must be below --lr, got " + str(c.min_lr));
  require(c.momentum >= 0 && c.momentum < 1, "--momentum must be in [0, 1), got " + str(c.momentum));
  require(!c.nesterov || (c.optimizer == "sgd" && c.momentum > 0),
          "--nesterov needs --optimizer sgd and a positive --momentum");
  require(c.beta1 >= 0 && c.beta1 < 1, "--beta1 must be in [0, 1), got " + str(c.beta1));
  require(c.beta2 >= 0 && c.beta2 < 1, "--beta2 must be in [0, 1), got " + str(c.beta2));
  require(c.alpha >= 0 && c.alpha < 1, "--alpha must be in [0, 1), got " + str(c.alpha));
  require(c.eps > 0, "--eps must be positive, got " + str(c.eps));
  require(c.label_smoothing >= 0 && c.label_smoothing < 1,
          "--label-smoothing must be in [0, 1), got " + str(c.label_smoothing));
  require(c.warmup_factor > 0 && c.warmup_factor <= 1,
          "--warmup-factor must be in (0, 1], got " + str(c.warmup_factor));
  require(c.gamma > 0 && c.gamma <= 1, "--gamma must be in (0, 1], got " + str(c.gamma));
  require(c.onecycle_pct > 0 && c.onecycle_pct < 1,
          "--onecycle-pct must be in (0, 1), got " + str(c.onecycle_pct));
  require(c.val_split > 0 && c.val_split < 1, "--val-split must be in (0, 1), got " + str(c.val_split));
  parse_augment(c.augment);
  require(c.in_channels == 0 || c.in_channels == 1 || c.in_channels == 3,
          "--in-channels must be 0 (the model's), 1 or 3, got " + std::to_string(c.in_channels));
  require(c.unfrozen_lr_mult > 0 && std::isfinite(c.unfrozen_lr_mult),
          "--unfrozen-lr-mult must be positive, got " + str(c.unfrozen_lr_mult));
  const bool freezes = std::any_of(c.freeze.begin(), c.freeze.end(), [](const std::string& f) { return f != "none"; });
  require(c.unfreeze_at == 0 || freezes, "--unfreeze-at needs layers to unfreeze; HINT: add --freeze conv");
  require(c.train.empty() || freezes, "--train re-enables frozen parameters; HINT: add --freeze all");
  require(!c.cache_features || (c.augment == "none" && c.unfreeze_at == 0),
          "--cache-features computes the frozen backbone's features once, so it needs --augment "
          "none and no --unfreeze-at");
  require(one_of(c.optimizer, {"sgd", "adam", "adamw", "rmsprop"}),
          "--optimizer must be sgd, adam, adamw or rmsprop, got '" + c.optimizer + "'");
  require(one_of(c.schedule, {"constant", "step", "multistep", "cosine", "plateau", "onecycle"}),
          "--schedule must be constant, step, multistep, cosine, plateau or onecycle, got '" +
              c.schedule + "'");
  require(c.schedule != "multistep" || !c.milestones.empty(),
          "--schedule multistep needs --milestones (epochs, e.g. --milestones 30 60 80)");
  for (size_t i = 0; i < c.milestones.size(); ++i) {
    require(c.milestones[i] > 0 && (i == 0 || c.milestones[i] > c.milestones[i - 1]),
            "--milestones must be positive and increasing, got " + std::to_string(c.milestones[i]));
  }
  require(c.schedule != "onecycle" || c.warmup_epochs == 0,
          "--schedule onecycle has its own warm-up phase; HINT: drop --warmup-epochs, use "
          "--onecycle-pct");
  require(c.dropout < 1, "--dropout must be below 1 (negative: the model's default), got " + str(c.dropout));
  require(one_of(c.cell, {"lstm", "gru", "rnn"}), "--cell must be lstm, gru or rnn, got '" + c.cell + "'");
  positive(c.embed, "--embed");
  positive(c.hidden, "--hidden");
  positive(c.layers, "--layers");
  positive(c.seq_len, "--seq-len");
  positive(c.attention_dim, "--attention-dim");
  positive(c.min_word_count, "--min-word-count");
  positive(c.max_caption_len, "--max-caption-len");
  require(!c.text_ext.empty(), "--text-ext needs at least one extension (or * for every file)");
  require(one_of(c.utf8_errors, {"strict", "replace"}),
          "--utf8-errors must be strict or replace, got '" + c.utf8_errors + "'");
  require(one_of(c.precision, {"fp32", "bf16", "fp16"}),
          "--precision must be fp32, bf16 or fp16, got '" + c.precision + "'");
}

}  // namespace zoo
