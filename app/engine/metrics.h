// What a task measures, as the trainer sees it: metric declarations (name, label, which way is
// better, how to print it) and weighted running sums of named figures. The trainer builds the
// epoch row, metrics.csv's columns, curves.png, the progress line, --best-metric and the final
// summary from a task's declarations alone, so it knows no task's words.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace zoo {

enum class Goal { kMax, kMin };
enum class MetricFormat { kPercent, kDecimal };

struct MetricSpec {
  std::string name;    // key in rows: "top1" -> "train_top1", "val_top1"; "loss" is every task's
  std::string label;   // for people: "top-1"
  Goal goal = Goal::kMin;
  MetricFormat format = MetricFormat::kDecimal;
  bool in_training = true;  // also measured on training batches (else validation only)
};

// "91.23%" or "0.2345".
std::string format_metric(const MetricSpec& spec, double value);
// "loss 0.2345, top-1 91.23%": the metrics `row[prefix + name]` holds, in declaration order;
// with training_only, only those measured in training.
std::string format_metrics(const std::vector<MetricSpec>& specs, const nlohmann::json& row,
                           const std::string& prefix, bool training_only = false,
                           const std::string& separator = ", ");
// The spec whose row key (e.g. "val_loss") is `key`; throws usage_error listing the choices
// (as --best-metric values) when there is none.
const MetricSpec& find_validation_metric(const std::vector<MetricSpec>& specs, const std::string& key);

// Weighted running sums: mean(name) = sum / weight. A task chooses the weight: samples for a
// per-image loss, tokens for a per-token loss over padded sequences.
class Sums {
 public:
  void add(const std::string& name, double sum, double weight);
  void merge(const Sums& other);
  // Zeroes every figure, keeping the names (no allocation when the same figures come again).
  void zero();
  // 0 when `name` has no weight yet.
  double mean(const std::string& name) const;
  double weight(const std::string& name) const;
  // No figure has weight yet.
  bool empty() const;
  // Every figure's mean, as an object {name: mean}.
  nlohmann::json means() const;
  nlohmann::json to_json() const;
  static Sums from_json(const nlohmann::json& j);

 private:
  struct Entry {
    std::string name;
    double sum = 0.0;
    double weight = 0.0;
  };
  const Entry* find(const std::string& name) const;
  std::vector<Entry> entries_;
};

}  // namespace zoo
