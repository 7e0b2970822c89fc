// Metric declarations and running sums; see metrics.h.
#include "app/engine/metrics.h"

#include "common/error.h"

#include <cstdio>

namespace zoo {

std::string format_metric(const MetricSpec& spec, double value) {
  char buf[64];
  if (spec.format == MetricFormat::kPercent) {
    std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * value);
  } else {
    std::snprintf(buf, sizeof buf, "%.4f", value);
  }
  return buf;
}

std::string format_metrics(const std::vector<MetricSpec>& specs, const nlohmann::json& row,
                           const std::string& prefix, bool training_only,
                           const std::string& separator) {
  std::string out;
  for (const auto& spec : specs) {
    if (training_only && !spec.in_training) continue;
    const auto it = row.find(prefix + spec.name);
    if (it == row.end() || !it->is_number()) continue;
    out += (out.empty() ? "" : separator) + spec.label + " " + format_metric(spec, it->get<double>());
  }
  return out;
}

const MetricSpec& find_validation_metric(const std::vector<MetricSpec>& specs, const std::string& key) {
  std::string choices;
  for (const auto& spec : specs) {
    if ("val_" + spec.name == key) return spec;
    choices += (choices.empty() ? "" : ", ") + ("val_" + spec.name);
  }
  throw usage_error("--best-metric must be one of this task's validation metrics (" + choices +
                    "), got '" + key + "'");
}

const Sums::Entry* Sums::find(const std::string& name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void Sums::add(const std::string& name, double sum, double weight) {
  for (auto& e : entries_) {
    if (e.name == name) {
      e.sum += sum;
      e.weight += weight;
      return;
    }
  }
  if (entries_.empty()) entries_.reserve(4);
  entries_.push_back({name, sum, weight});
}

void Sums::zero() {
  for (auto& e : entries_) e.sum = e.weight = 0.0;
}

bool Sums::empty() const {
  for (const auto& e : entries_) {
    if (e.weight > 0) return false;
  }
  return true;
}

void Sums::merge(const Sums& other) {
  for (const auto& e : other.entries_) add(e.name, e.sum, e.weight);
}

double Sums::mean(const std::string& name) const {
  const Entry* e = find(name);
  return e && e->weight > 0 ? e->sum / e->weight : 0.0;
}

double Sums::weight(const std::string& name) const {
  const Entry* e = find(name);
  return e ? e->weight : 0.0;
}

nlohmann::json Sums::means() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& e : entries_) out[e.name] = mean(e.name);
  return out;
}

nlohmann::json Sums::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries_) out.push_back({e.name, e.sum, e.weight});
  return out;
}

Sums Sums::from_json(const nlohmann::json& j) {
  Sums s;
  for (const auto& e : j) s.add(e.at(0).get<std::string>(), e.at(1).get<double>(), e.at(2).get<double>());
  return s;
}

}  // namespace zoo
