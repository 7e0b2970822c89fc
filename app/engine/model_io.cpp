// Checkpoint metadata <-> models; see model_io.h.
#include "app/engine/model_io.h"

#include "common/error.h"

namespace zoo {

nlohmann::json model_options_to_json(const ModelOptions& o) {
  return {{"num_classes", o.num_classes},         {"in_channels", o.in_channels},
          {"input_size", o.input_size},           {"aux_logits", o.aux_logits},
          {"transform_input", o.transform_input}, {"dropout", o.dropout}};
}

ModelOptions model_options_from_json(const nlohmann::json& j) {
  ModelOptions o;
  o.num_classes = j.value("num_classes", o.num_classes);
  o.in_channels = j.value("in_channels", o.in_channels);
  o.input_size = j.value("input_size", o.input_size);
  o.aux_logits = j.value("aux_logits", o.aux_logits);
  o.transform_input = j.value("transform_input", o.transform_input);
  o.dropout = j.value("dropout", o.dropout);
  return o;
}

SampleSpec default_sample_spec(const ModelInfo& info, int64_t input_size) {
  SampleSpec spec;
  spec.channels = info.input_shape[0];
  spec.height = input_size > 0 ? input_size : info.input_shape[1];
  spec.width = input_size > 0 ? input_size : info.input_shape[2];
  spec.mean = info.norm.mean;
  spec.std = info.norm.std;
  return spec;
}

nlohmann::json sample_spec_to_json(const SampleSpec& s) {
  return {{"input_shape", {s.channels, s.height, s.width}},
          {"normalization", {{"mean", s.mean}, {"std", s.std}}}};
}

SampleSpec sample_spec_from_json(const nlohmann::json& j) {
  SampleSpec s;
  const auto shape = j.at("input_shape").get<std::vector<int64_t>>();
  if (shape.size() != 3) throw data_error("checkpoint input_shape must be [C, H, W]");
  s.channels = shape[0];
  s.height = shape[1];
  s.width = shape[2];
  s.mean = j.at("normalization").at("mean").get<std::array<double, 3>>();
  s.std = j.at("normalization").at("std").get<std::array<double, 3>>();
  return s;
}

LoadedClassifier load_classifier(const std::string& path) {
  Checkpoint ckpt = load_checkpoint(path);
  LoadedClassifier out;
  try {
    out.model_name = ckpt.meta.at("model").get<std::string>();
    out.spec = sample_spec_from_json(ckpt.meta);
    out.class_names = ckpt.meta.at("class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw data_error("checkpoint " + path + " has incomplete metadata (" + e.what() +
                     "); HINT: re-save it with this zoo");
  }
  if (find_model(out.model_name).kind != ModelKind::kClassifier) {
    throw usage_error("checkpoint " + path + " holds '" + out.model_name +
                      "', which is not an image classifier");
  }
  out.model = build_classifier(out.model_name,
                               model_options_from_json(ckpt.meta.value("model_options", nlohmann::json::object())));
  load_state_dict(*out.model, ckpt.model, LoadMode::kStrict, path);
  out.model->eval();
  out.meta = std::move(ckpt.meta);
  return out;
}

}  // namespace zoo
