// Helpers shared by the subcommand files.
#include "app/commands/commands.h"

#include "app/engine/caption.h"
#include "common/error.h"
#include "models/registry.h"
#include "weights/weights_io.h"

#include <cstdio>
#include <filesystem>
#include <optional>

namespace zoo {

std::string take_model_name(std::vector<std::string>& inputs) {
  if (inputs.empty()) return "";
  std::error_code ec;
  for (const auto& info : model_table()) {
    if (info.name == inputs.front() && !std::filesystem::exists(inputs.front(), ec)) {
      std::string name = inputs.front();
      inputs.erase(inputs.begin());
      return name;
    }
  }
  return "";
}

namespace {

CLI::Validator number_check(const char* description, bool (*ok)(double), const char* rule) {
  return CLI::Validator(
      [ok, rule](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !ok(v)) return std::string(rule) + ", got " + text;
        return "";
      },
      description);
}

}  // namespace

const CLI::Validator kPositiveNumber = number_check("POSITIVE", [](double v) { return v > 0; }, "must be positive");
const CLI::Validator kNonNegativeNumber =
    number_check("NONNEGATIVE", [](double v) { return v >= 0; }, "must be 0 or more");

void print_parse_error(CLI::App& app, const CLI::ParseError& e) {
  CLI::App* deepest = &app;
  std::string path = "zoo";
  for (auto subs = app.get_subcommands(); !subs.empty(); subs = deepest->get_subcommands()) {
    deepest = subs.front();
    path += " " + deepest->get_name();
  }
  std::string what = e.what();
  std::vector<std::string> rest = deepest->remaining();
  if (rest.empty()) rest = app.remaining();  // a word a subcommand did not take falls through to the app
  if (dynamic_cast<const CLI::RequiredError*>(&e) && !rest.empty() && rest.front().rfind("-", 0) != 0 &&
      !deepest->get_subcommands({}).empty()) {
    what = "unknown command '" + rest.front() + "'";
  } else if (!rest.empty() && dynamic_cast<const CLI::RequiredError*>(&e)) {
    what = "unexpected argument '" + rest.front() + "'";
  }
  std::fprintf(stderr, "zoo: error: %s: %s; HINT: %s --help\n", path.c_str(), what.c_str(), path.c_str());
}

void require_safetensors(const char* flag, const std::string& path) {
  if (weights_format_of(path) != WeightsFormat::kSafetensors) {
    throw usage_error(std::string(flag) + " " + path + " must be a .safetensors file; HINT: name it OUT.safetensors");
  }
}

void for_each_name(const std::vector<std::string>& names, const char* verb,
                   const std::function<void(const std::string&)>& what) {
  if (names.size() == 1) {
    what(names.front());
    return;
  }
  std::optional<Error> first;
  int failed = 0;
  for (const auto& name : names) {
    try {
      what(name);
    } catch (const Error& e) {
      std::fprintf(stderr, "zoo: error: %s\n", e.what());
      if (e.kind() == ErrorKind::kInterrupted) throw;
      if (!first) first = e;
      ++failed;
    }
  }
  if (first) {
    throw Error(first->kind(), std::to_string(failed) + " of " + std::to_string(names.size()) + " could not be " +
                verb + " (errors above)");
  }
}

const char* const kThreadsHelp =
    "LibTorch intra-op threads; 0 (the default): the available cores (CPU affinity and cgroup "
    "quota) that are idle at the start, or OMP_NUM_THREADS when set; 1: the steadiest where other "
    "work shares the cores";

CLI::Option* add_threads_option(CLI::App* cmd, int& threads) {
  return cmd->add_option("--threads", threads, kThreadsHelp)->check(kNonNegativeNumber);
}

void add_beam_options(CLI::App* cmd, BeamOptions& beam, const std::string& prefix) {
  cmd->add_option("--beam", beam.beam, prefix + "beam width; 1: greedy decoding")
      ->check(kPositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-len", beam.max_len, prefix + "most words per caption")
      ->check(kPositiveNumber)
      ->capture_default_str();
  cmd->add_option("--length-norm", beam.length_norm,
                  prefix + "beams are ranked by log-probability / length^A; 0: by log-probability alone")
      ->check(kNonNegativeNumber)
      ->capture_default_str();
}

}  // namespace zoo
