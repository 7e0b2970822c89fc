// zoo sample [charlm] --weights CKPT [--prime TEXT] [--length N] [--temperature T] [--top-k K]
// [--top-p P] [--seed S] [--greedy]: generates text from a character-level language model,
// printing the prime and then each character as it is drawn.
#include "app/commands/commands.h"
#include "app/engine/sample.h"
#include "app/engine/tasks/language_model.h"
#include "common/device.h"
#include "common/error.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <random>

namespace zoo {

namespace {

struct SampleCommandOptions {
  std::vector<std::string> model;  // optional model name, checked against the checkpoint
  std::string weights;
  std::string prime;
  int64_t length = 500;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  int64_t seed = -1;  // negative: a random seed, logged
  bool greedy = false;
  int threads = 0;  // 0: resolve_threads
};

void run_sample(const SampleCommandOptions& opts) {
  if (opts.model.size() > 1 || (!opts.model.empty() && opts.model[0] != "charlm")) {
    throw usage_error("zoo sample generates text from a charlm checkpoint, got '" + opts.model.back() +
                      "'; HINT: zoo sample [charlm] --weights runs/charlm-1/checkpoints/best.pt");
  }
  at::set_num_threads(resolve_threads(opts.threads));
  LoadedLanguageModel lm = load_language_model(opts.weights);
  SampleOptions o;
  o.prime = decode_utf8(opts.prime, Utf8Errors::kStrict, "--prime");
  o.length = opts.length;
  o.temperature = opts.temperature;
  o.top_k = opts.top_k;
  o.top_p = opts.top_p;
  o.greedy = opts.greedy;
  o.seed = opts.seed >= 0 ? static_cast<uint64_t>(opts.seed) : std::random_device{}() & 0x7fffffff;
  validate(o, lm.vocab);
  if (opts.seed < 0) spdlog::info("sampling with --seed {}", o.seed);
  std::fputs(opts.prime.c_str(), stdout);
  sample_text(*lm.model, lm.vocab, o, [](const std::string& c) {
    std::fputs(c.c_str(), stdout);
    std::fflush(stdout);
  });
  std::fputs("\n", stdout);
}

}  // namespace

void register_sample(CLI::App& app) {
  auto opts = std::make_shared<SampleCommandOptions>();
  CLI::App* cmd = app.add_subcommand("sample", "Generate text from a character-level language model (charlm)");
  cmd->add_option("model", opts->model, "Optional model name (charlm), checked against the checkpoint");
  cmd->add_option("--weights", opts->weights, "A charlm checkpoint (runs/charlm-N/checkpoints/best.pt)")->required();
  cmd->add_option("--prime", opts->prime,
                  "Text to start from (printed, then continued); default: start after a newline");
  cmd->add_option("--length", opts->length, "Characters to generate after the prime")->capture_default_str();
  cmd->add_option("--temperature", opts->temperature,
                  "Softmax temperature: below 1 more likely, above 1 more varied; 0: greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", opts->top_k, "Draw from the K most likely characters only; 0: all")->capture_default_str();
  cmd->add_option("--top-p", opts->top_p,
                  "Draw from the smallest set of most likely characters whose probability reaches "
                  "P (nucleus sampling); 1: all")
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the draws (the same seed, the same text); default: "
                  "random, logged on stderr");
  cmd->add_flag("--greedy", opts->greedy, "Always take the most likely character (as --temperature 0)");
  add_threads_option(cmd, opts->threads)
      ->capture_default_str();
  cmd->callback([opts] { run_sample(*opts); });
}

}  // namespace zoo
