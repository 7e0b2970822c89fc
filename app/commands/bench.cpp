// zoo bench --data D: loader throughput (bench_data.h). The lead folds these option lines into
// the model benchmark's bench.cpp.
#include "app/commands/bench_data.h"
#include "app/commands/commands.h"

#include <memory>

namespace zoo {

void register_bench(CLI::App& app) {
  auto opts = std::make_shared<BenchDataOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure the data loader's throughput (images/s)");
  cmd->add_option("--data", opts->data, "Dataset name or path whose training pipeline to time")->required();
  cmd->add_option("--model", opts->model, "Model whose input pipeline (size, normalization) to use")
      ->capture_default_str();
  cmd->add_option("--input-size", opts->input_size, "Input height/width; 0: as zoo train")->capture_default_str();
  cmd->add_option("--augment", opts->augment, "Training augmentation: none, standard or strong")
      ->check(CLI::IsMember({"none", "standard", "strong"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", opts->batch_size, "Samples per batch")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--workers", opts->workers, "Loader threads (0: the calling thread)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--batches", opts->batches, "Batches per epoch to time; 0: the whole epoch")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--epochs", opts->epochs, "Epochs to time")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of shuffling and augmentation")->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->callback([opts] { run_bench_data(*opts); });
}

}  // namespace zoo
