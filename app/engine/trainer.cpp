// The training loop; see trainer.h. Read `fit` top to bottom: epochs of `train_epoch` (one
// batch at a time, an optimizer step every --accumulate batches) each closed by `end_epoch`
// (validation, the epoch row, best.pt, last.pt). Nothing here knows what a batch holds.
#include "app/engine/trainer.h"

#include "app/engine/checkpoint.h"
#include "app/engine/distributed.h"
#include "app/engine/freeze.h"
#include "app/engine/optim.h"
#include "app/engine/plots.h"
#include "app/engine/precision.h"
#include "app/engine/progress.h"
#include "app/engine/run_dir.h"
#include "app/engine/schedule.h"
#include "app/engine/signals.h"
#include "common/device.h"
#include "common/error.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/nn/utils/clip_grad.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <optional>

namespace zoo {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Where a run is: the next batch to train and the figures of the epoch so far.
struct Position {
  int64_t epoch = 0;
  int64_t batch = 0;  // next batch within the epoch
  int64_t step = 0;   // optimizer steps since the start of the run
  Sums sums;          // running figures of the current epoch
  bool has_best = false;
  double best = 0.0;
  int64_t best_epoch = 0;  // 1-based epoch of the best metric
  double elapsed = 0.0;    // training seconds of all sessions before this one
};

nlohmann::json position_to_json(const Position& p) {
  return {{"epoch", p.epoch},   {"batch", p.batch},       {"step", p.step},
          {"epoch_sums", p.sums.to_json()}, {"has_best", p.has_best}, {"best", p.best},
          {"best_epoch", p.best_epoch},     {"elapsed", p.elapsed}};
}

Position position_from_json(const nlohmann::json& j) {
  Position p;
  p.epoch = j.at("epoch");
  p.batch = j.at("batch");
  p.step = j.at("step");
  if (j.contains("epoch_sums")) {
    p.sums = Sums::from_json(j["epoch_sums"]);
  } else if (j.contains("epoch_loss_sum")) {  // format 1 kept the loss sum and a sample count
    p.sums.add("loss", j["epoch_loss_sum"].get<double>(), j.at("epoch_count").get<double>());
  }
  p.best = j.at("best");
  p.has_best = j.value("has_best", p.best >= 0);  // format 1 wrote best -1 for "none yet"
  p.best_epoch = std::max<int64_t>(0, j.at("best_epoch").get<int64_t>());
  p.elapsed = j.value("elapsed", 0.0);
  return p;
}

struct Run {
  TrainConfig config;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  std::unique_ptr<Task> task;
  std::vector<MetricSpec> metrics;
  Goal best_goal = Goal::kMax;
  Freezer freezer;
  bool frozen = false;  // the freezer's parameters are frozen now (until --unfreeze-at)
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> lr_scales;      // per optimizer group: its lr / the schedule's lr
  std::vector<torch::Tensor> params;  // what trains now
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<LossScaler> scaler;
  int64_t batches_per_epoch = 0;  // after --limit-batches
  std::optional<RunDir> dir;
  Position pos;
  nlohmann::json last_metrics = nlohmann::json::object();  // the latest epoch row
  Clock::time_point session_start = Clock::now();
  double elapsed_before = 0.0;
  double elapsed() const { return elapsed_before + seconds_since(session_start); }
  // Data parallelism (null for one process): the group, the gradient averaging of `params`,
  // and the module's buffers that rank 0 broadcasts before every forward (as c10d's DDP does).
  std::shared_ptr<Distributed> dist;
  std::unique_ptr<GradientReducer> reducer;
  std::vector<torch::Tensor> broadcast_buffers;
  // Rank 0 alone writes the run directory, the logs and the checkpoints.
  bool writer() const { return !dist || dist->rank() == 0; }
  int world_size() const { return dist ? dist->world_size() : 1; }
};

// metrics.csv's columns: the step/epoch bookkeeping, the training figures, throughput, time,
// then the validation figures.
std::vector<std::string> metric_columns(const Run& run) {
  std::vector<std::string> columns = {"kind", "epoch", "step", "lr"};
  for (const auto& m : run.metrics) {
    if (m.in_training) columns.push_back(m.name);
  }
  columns.push_back(run.task->throughput_unit() + "_per_s");
  columns.push_back("elapsed");
  for (const auto& m : run.metrics) columns.push_back("val_" + m.name);
  return columns;
}

nlohmann::json checkpoint_meta(const Run& run, const TaskState& state) {
  nlohmann::json meta = run.task->checkpoint_meta();
  meta["model"] = run.config.model;
  meta["data"] = run.config.data;
  meta["position"] = position_to_json(run.pos);
  const int64_t samples = run.task->train_data().samples();
  if (samples >= 0) meta["position"]["train_samples"] = samples;
  meta["schedule"] = run.schedule->state();
  meta["loss_scaler"] = run.scaler->state();
  meta["task_state"] = state.meta;
  meta["metrics"] = run.last_metrics;
  meta["config"] = to_json(run.config);
  meta["distributed"] = {{"world_size", run.world_size()}};
  return meta;
}

// Data parallel: every rank's carried task tensors (an RNN's state of its own streams), for
// rank 0 to save: its own under their names, rank r's as "rank<r>/<name>". A collective: every
// rank calls it at the same point.
StateDict gather_task_tensors(Run& run, const StateDict& own) {
  if (!run.dist || own.empty()) return own;
  StateDict out = run.writer() ? own : StateDict{};
  for (const auto& [name, t] : own) {
    std::vector<int64_t> shape = t.sizes().vec();
    shape.insert(shape.begin(), run.world_size());
    torch::Tensor all = torch::zeros(shape, t.options());
    all[run.dist->rank()].copy_(t);
    run.dist->all_reduce_sum(all);
    for (int r = 1; r < run.world_size() && run.writer(); ++r) out.emplace_back("rank" + std::to_string(r) + "/" + name, all[r].clone());
  }
  return out;
}

// This rank's part of a checkpoint's task tensors (see gather_task_tensors).
StateDict own_task_tensors(const Run& run, const StateDict& saved) {
  const int rank = run.dist ? run.dist->rank() : 0;
  const std::string prefix = "rank" + std::to_string(rank) + "/";
  StateDict own;
  for (const auto& [name, t] : saved) {
    if (rank == 0 && name.find('/') == std::string::npos) own.emplace_back(name, t);  // task names have no /
    if (rank > 0 && name.rfind(prefix, 0) == 0) own.emplace_back(name.substr(prefix.size()), t);
  }
  return own;
}

// last.pt; called by every rank at the same points (rank 0 writes).
void save_last(Run& run) {
  run.pos.elapsed = run.elapsed();
  TaskState state = run.task->state();
  state.tensors = gather_task_tensors(run, state.tensors);
  if (!run.writer()) return;
  save_checkpoint(run.dir->last_checkpoint().string(), checkpoint_meta(run, state),
                  state_dict_of(run.task->module()), run.optimizer.get(), /*with_rng=*/true,
                  state.tensors, run.dir->previous_checkpoint().string());
}

void save_best(const Run& run) {
  if (!run.writer()) return;
  save_checkpoint(run.dir->best_checkpoint().string(), checkpoint_meta(run, {}),
                  state_dict_of(run.task->module()), nullptr, /*with_rng=*/false);
}

// Threads, determinism and the seed, before anything random happens.
// --threads 0 shares the idle cores among the ranks of this machine.
void configure_runtime(const TrainConfig& config, int local_ranks) {
  at::set_num_threads(resolve_threads(config.threads, local_ranks));
  at::globalContext().setDeterministicAlgorithms(config.deterministic, /*warn_only=*/false);
  at::globalContext().setDeterministicCuDNN(config.deterministic);
  at::globalContext().setBenchmarkCuDNN(!config.deterministic);
  torch::manual_seed(config.seed);
}

std::vector<torch::Tensor> trainable(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& p : module.parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

// What the optimizer trains, in group order: the body at --lr, the head at --head-lr, and,
// once --unfreeze-at has passed, the released layers at --lr x --unfrozen-lr-mult (last, as
// add_param_set appends them, so a resumed run rebuilds the same groups).
std::vector<ParamSet> param_sets(const Run& run) {
  const TrainConfig& c = run.config;
  const auto head = run.task->head_prefixes();
  ParamSet body, head_set{{}, c.head_lr > 0 ? c.head_lr / c.lr : 1.0}, released{{}, c.unfrozen_lr_mult};
  for (const auto& p : run.task->module().named_parameters()) {
    if (run.freezer.is_frozen(p.key())) {
      if (!run.frozen) released.params.push_back(p.value());
    } else {
      (in_head(p.key(), head) ? head_set : body).params.push_back(p.value());
    }
  }
  return {body, head_set, released};
}

// --freeze, as it stands at position (epoch, batch), 0-based: frozen until the start of epoch
// --unfreeze-at (a checkpoint at batch 0 of that epoch was written before the release).
void setup_freezing(Run& run, int64_t epoch, int64_t batch) {
  const TrainConfig& c = run.config;
  torch::nn::Module& module = run.task->module();
  run.freezer = Freezer(module, run.task->head_prefixes(), {c.freeze, c.train, c.bn_train});
  const bool released = c.unfreeze_at > 0 && (epoch + 1 > c.unfreeze_at || (epoch + 1 == c.unfreeze_at && batch > 0));
  run.frozen = !run.freezer.empty() && !released;
  if (run.frozen) run.freezer.freeze(module);
}

// Gradient averaging over the ranks for what trains now (rebuilt when --unfreeze-at releases
// layers: its hooks are on the parameters it was built for).
void make_reducer(Run& run) {
  if (!run.dist) return;
  run.reducer.reset();
  if (!run.params.empty()) {
    run.reducer = std::make_unique<GradientReducer>(*run.dist, run.params,
                                                    static_cast<int64_t>(run.config.bucket_mb * (1 << 20)));
  }
}

// Every rank starts from rank 0's weights and buffers; gradients are averaged from now on.
void setup_data_parallel(Run& run) {
  if (!run.dist) return;
  torch::nn::Module& module = run.task->module();
  std::vector<torch::Tensor> state = module.parameters();
  for (const auto& b : module.buffers()) state.push_back(b);
  run.dist->broadcast(state);
  if (run.config.sync_bn && set_batch_norm_statistics_sum(module, rank_sum(*run.dist)) == 0) {
    spdlog::warn("--sync-bn: {} has no batch norm; nothing to synchronise", run.config.model);
  }
  // With synchronised statistics every rank's buffers stay equal by construction.
  if (!run.config.sync_bn) run.broadcast_buffers = module.buffers();
  make_reducer(run);
  if (!run.writer()) run.config.quiet = true;  // one progress display: rank 0's
}

// At the start of epoch --unfreeze-at: the frozen layers train from now on, as new optimizer
// groups at --lr x --unfrozen-lr-mult.
void unfreeze_if_due(Run& run) {
  const TrainConfig& c = run.config;
  if (!run.frozen || c.unfreeze_at == 0 || run.pos.epoch + 1 < c.unfreeze_at) return;
  torch::nn::Module& module = run.task->module();
  run.freezer.unfreeze(module);
  run.frozen = false;
  add_param_set(*run.optimizer, c, {run.freezer.frozen_params(module), c.unfrozen_lr_mult}, &run.lr_scales);
  run.params = trainable(module);
  make_reducer(run);
  spdlog::info("epoch {}: unfroze {} parameter tensors (lr x {})", run.pos.epoch + 1,
               run.freezer.frozen().size(), c.unfrozen_lr_mult);
}

// The run's device: with several ranks on a CUDA machine, `cuda` means this rank's GPU
// (LOCAL_RANK), as torchrun scripts do.
torch::Device device_of_rank(const TrainConfig& config, int local_rank) {
  torch::Device device = parse_device(config.device);
  if (local_rank >= 0 && device.is_cuda() && !device.has_index()) {
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
  }
  return device;
}

int local_rank_of(const Distributed* dist) { return dist ? dist->env().local_rank : -1; }

// The process group this process belongs to when torchrun (or --nproc) started several;
// null for a single process.
std::shared_ptr<Distributed> join_if_launched(const TrainConfig& config) {
  const DistEnv env = dist_env_from_environment();
  if (!env.distributed()) return nullptr;
  if (env.rank != 0) spdlog::set_level(spdlog::level::warn);  // one copy of every log line: rank 0's
  return Distributed::join(env, DistOptions{config.dist_backend, std::chrono::seconds(config.dist_timeout)},
                           device_of_rank(config, env.local_rank));
}

// Builds everything a run needs: the task (model and data), freezing, optimizer, schedule,
// loss scaler. `start`: the position (epoch, batch) the run starts at; a resumed run's.
Run prepare(const TrainConfig& config, const TaskFactory& factory, bool resuming,
            std::pair<int64_t, int64_t> start, std::shared_ptr<Distributed> dist) {
  Run run;
  run.config = config;
  run.dist = std::move(dist);
  run.device = device_of_rank(config, local_rank_of(run.dist.get()));
  run.precision = parse_precision(config.precision, run.device);
  configure_runtime(config, run.dist ? run.dist->env().local_world_size : 1);
  run.task = factory(run.config, TaskContext{run.device, run.precision, resuming, run.dist ? run.dist->rank() : 0,
                                             run.world_size()});
  run.metrics = run.task->metrics();
  if (run.config.best_metric.empty()) run.config.best_metric = run.task->default_best_metric();
  run.best_goal = find_validation_metric(run.metrics, run.config.best_metric).goal;
  setup_freezing(run, start.first, start.second);
  run.optimizer = make_optimizer(run.config, param_sets(run), &run.lr_scales);
  run.params = trainable(run.task->module());
  setup_data_parallel(run);
  run.scaler = std::make_unique<LossScaler>(run.precision == Precision::kFp16);
  run.batches_per_epoch = run.task->train_data().batches_per_epoch();
  if (config.limit_batches > 0) run.batches_per_epoch = std::min(run.batches_per_epoch, config.limit_batches);
  const int64_t steps_per_epoch = (run.batches_per_epoch + config.accumulate - 1) / config.accumulate;
  run.schedule = std::make_unique<LrSchedule>(run.config, steps_per_epoch);
  return run;
}

// Puts a prepared run where its checkpoint left it: weights, optimizer state, RNG states,
// position, schedule, loss scale and the task's carried state.
void restore(Run& run, const Checkpoint& ckpt, const std::string& path) {
  load_state_dict(run.task->module(), ckpt.model, LoadMode::kStrict, path);
  if (!ckpt.optimizer) {
    throw data_error("checkpoint " + path + " has no optimizer state, so it cannot be resumed exactly");
  }
  try {
    run.optimizer->load(const_cast<torch::serialize::InputArchive&>(*ckpt.optimizer));
  } catch (const c10::Error& e) {
    throw data_error("checkpoint " + path + " holds optimizer state that does not fit --optimizer " +
                     run.config.optimizer + " (" +
                     std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
  restore_rng_states(ckpt);
  const nlohmann::json& at = ckpt.meta.at("position");
  const int64_t then = at.value("train_samples", int64_t{-1}), now = run.task->train_data().samples();
  if (then >= 0 && now >= 0 && then != now) {
    throw data_error("cannot resume from " + path + " exactly: the training data held " + std::to_string(then) +
                     " samples when it was saved and holds " + std::to_string(now) + " now; HINT: restore the "
                     "dataset as it was (a file went missing or was added), or start a new run");
  }
  run.pos = position_from_json(at);
  if (ckpt.meta.contains("schedule")) run.schedule->load_state(ckpt.meta["schedule"]);
  if (ckpt.meta.contains("loss_scaler")) run.scaler->load_state(ckpt.meta["loss_scaler"]);
  run.task->load_state({ckpt.meta.value("task_state", nlohmann::json::object()), own_task_tensors(run, ckpt.task_state)});
  if (ckpt.meta.contains("metrics")) run.last_metrics = ckpt.meta["metrics"];
}

// Why the run should not start another epoch, or "" to go on.
std::string stop_reason(const Run& run) {
  const TrainConfig& c = run.config;
  const Position& p = run.pos;
  if (c.max_steps > 0 && p.step >= c.max_steps) return "max_steps";
  if (c.patience > 0 && p.has_best && p.epoch - p.best_epoch >= c.patience) return "patience";
  if (p.epoch >= c.epochs) return "epochs";
  return "";
}

// Figures of a stretch of batches: the epoch so far in this session, or the steps since the
// last step row.
struct Window {
  Sums sums;
  int64_t units = 0;
  double lr = 0.0;  // the learning rate of the stretch's last step
  Clock::time_point start = Clock::now();
  void add(const StepOutput& out) {
    sums.merge(out.sums);
    units += out.units;
  }
  double rate() const { return double(units) / std::max(seconds_since(start), 1e-9); }
  void restart() {
    sums.zero();
    units = 0;
    start = Clock::now();
  }
};

// The training figures of `sums` under their row keys (`prefix` + name).
void put_training_figures(const Run& run, const Sums& sums, const std::string& prefix,
                          nlohmann::json& row) {
  for (const auto& m : run.metrics) {
    if (m.in_training && sums.weight(m.name) > 0) row[prefix + m.name] = sums.mean(m.name);
  }
}

// Forward and backward of one batch of an accumulation group of `group_size` batches.
StepOutput accumulate_batch(Run& run, const Batch& batch, int64_t group_size) {
  if (!run.broadcast_buffers.empty()) run.dist->broadcast(run.broadcast_buffers);
  StepOutput out = run.task->train_step(batch);
  const double loss = out.sums.mean("loss");
  if (!std::isfinite(loss)) {
    throw data_error("loss became " + std::to_string(loss) + " at epoch " +
                     std::to_string(run.pos.epoch + 1) + " step " + std::to_string(run.pos.step) +
                     "; the run stopped and " + run.dir->last_checkpoint().string() +
                     " keeps the last good state; HINT: lower --lr, or clip with --clip-grad-norm");
  }
  (out.loss * (run.scaler->scale() / double(group_size))).backward();
  return out;
}

// The optimizer step that closes an accumulation group (skipped on fp16 overflow).
void optimizer_step(Run& run) {
  const bool finite = run.scaler->unscale(run.params);
  if (finite && run.config.clip_grad_norm > 0) {
    torch::nn::utils::clip_grad_norm_(run.params, run.config.clip_grad_norm);
  }
  if (finite) {
    run.optimizer->step();
  } else {
    spdlog::warn("fp16 gradients overflowed at step {}; step skipped, loss scale now {}",
                 run.pos.step, run.scaler->scale() / 2);
  }
  run.scaler->update(finite);
  ++run.pos.step;
}

void append_step_row(Run& run, const Window& window, double lr) {
  if (!run.writer()) return;
  nlohmann::json row = {{"kind", "step"}, {"epoch", run.pos.epoch + 1}, {"step", run.pos.step}, {"lr", lr}};
  put_training_figures(run, window.sums, "", row);
  row[run.task->throughput_unit() + "_per_s"] = window.rate();
  row["elapsed"] = run.elapsed();
  run.dir->append_metrics(row);
}

// Data parallel, at the end of an accumulation group: the averaged gradients, the group's
// figures summed over the ranks (so every rank logs, checkpoints and decides alike) and the
// stop request of any rank (`sig`: this rank's). Returns the signal all ranks stop for, or 0.
int synchronise_group(Run& run, Window& group, int sig) {
  if (run.reducer) run.reducer->finish();
  std::vector<double> values = {double(sig), double(group.units), sig != 0 ? 1.0 : 0.0};
  for (const auto& m : run.metrics) {
    if (!m.in_training) continue;
    values.push_back(group.sums.mean(m.name) * group.sums.weight(m.name));
    values.push_back(group.sums.weight(m.name));
  }
  run.dist->all_reduce_sum(values);
  group.sums = {};
  size_t k = 3;
  for (const auto& m : run.metrics) {
    if (!m.in_training) continue;
    if (values[k + 1] > 0) group.sums.add(m.name, values[k], values[k + 1]);
    k += 2;
  }
  group.units = static_cast<int64_t>(values[1]);
  if (values[0] == 0) return 0;
  if (sig != 0) return sig;
  // A signal reached other ranks first (the launcher forwards it to one rank after another):
  // stop with theirs when they agree on one, so that every rank exits with the same code.
  const double signalled = values[2], mean = values[0] / signalled;
  return mean == std::floor(mean) && (mean == SIGINT || mean == SIGTERM) ? static_cast<int>(mean) : SIGTERM;
}

// On SIGINT/SIGTERM (`sig`): last.pt at this exact position, then the interrupted error (exit
// 130/143).
void stop_if_signalled(Run& run, Progress& progress, int sig) {
  if (!sig) return;
  progress.finish();
  save_last(run);
  throw Error(ErrorKind::kInterrupted,
              "stopped by signal " + std::to_string(sig) + " at epoch " +
                  std::to_string(run.pos.epoch + 1) + " batch " + std::to_string(run.pos.batch) +
                  "; saved " + run.dir->last_checkpoint().string() +
                  "; HINT: continue with `zoo train --resume " + run.dir->path().string() + "`",
              sig);
}

// A training file that vanished or cannot be read (kMissingInput, kIO) stops the run where it
// is: last.pt at this position when it is between optimizer steps (and one process trains), so
// that the run continues exactly once the file is back. Any other error passes through.
[[noreturn]] void stop_on_data_failure(Run& run, const Error& e) {
  if (e.kind() != ErrorKind::kMissingInput && e.kind() != ErrorKind::kIO) throw e;
  std::string what = e.what();
  what = what.substr(0, what.rfind("; HINT:"));
  std::string saved;
  if (!run.dist && run.pos.batch % run.config.accumulate == 0 && run.pos.batch > 0) {  // save_last is collective
    save_last(run);
    saved = "; saved " + run.dir->last_checkpoint().string() + " at epoch " + std::to_string(run.pos.epoch + 1) +
            " batch " + std::to_string(run.pos.batch);
  }
  throw Error(e.kind(), "training data failed mid-epoch: " + what + saved +
                            "; HINT: restore the dataset's files, then continue with `zoo train --resume " +
                            run.dir->path().string() + "`");
}

// Trains from the current position to the end of the epoch (or --max-steps); returns the
// figures of the batches this session trained.
Window train_epoch(Run& run) {
  const TrainConfig& c = run.config;
  Position& pos = run.pos;
  const int64_t nb = run.batches_per_epoch;
  unfreeze_if_due(run);
  run.task->begin_epoch(pos.epoch, pos.batch);
  run.task->module().train();
  if (run.frozen) run.freezer.set_modes(run.task->module());
  run.task->train_data().start_epoch(pos.epoch, pos.batch);
  Progress progress("epoch " + std::to_string(pos.epoch + 1) + "/" + std::to_string(c.epochs), nb, c.quiet);
  Window epoch, window;
  Window group_figures;  // data parallel: this rank's figures of the group, summed at its end
  double lr = run.schedule->lr(pos.step);
  bool group_has_samples = false;
  auto add_figures = [&](const StepOutput& out) {
    pos.sums.merge(out.sums);
    epoch.add(out);
    window.add(out);
    group_has_samples = true;
  };
  while (pos.batch < nb) {
    std::optional<Batch> batch;
    try {
      batch = run.task->train_data().next();
    } catch (const Error& e) {
      progress.finish();
      stop_on_data_failure(run, e);
    }
    if (!batch) break;
    // Batches [group, group + group_size) make one optimizer step.
    const int64_t group = pos.batch / c.accumulate * c.accumulate;
    const int64_t group_size = std::min(c.accumulate, nb - group);
    if (pos.batch == group) {
      lr = run.schedule->lr(pos.step);
      set_lr(*run.optimizer, lr, run.lr_scales);
      run.optimizer->zero_grad();
      group_has_samples = false;
      group_figures.restart();
    }
    const bool closes_group = batch->index() + 1 == group + group_size;
    if (run.reducer && closes_group) run.reducer->arm(/*accumulated=*/batch->index() > group);  // this backward all-reduces
    if (batch->size() > 0) {
      StepOutput out;
      try {
        out = accumulate_batch(run, *batch, group_size);
      } catch (...) {
        progress.finish();
        throw;
      }
      if (run.dist) group_figures.add(out); else add_figures(out);
    }
    pos.batch = batch->index() + 1;
    progress.update(pos.batch, [&] { return format_metrics(run.metrics, pos.sums.means(), "", true, " "); }, lr);
    if (pos.batch != group + group_size) continue;  // not the last batch of its group

    int sig = stop_requested();
    if (run.dist) {
      sig = synchronise_group(run, group_figures, sig);
      StepOutput summed;
      summed.sums = group_figures.sums;
      summed.units = group_figures.units;
      if (!summed.sums.empty()) add_figures(summed);
    }
    if (group_has_samples) optimizer_step(run);
    if (pos.step % c.log_every == 0 && window.units > 0) {
      append_step_row(run, window, lr);
      window.restart();
    }
    const bool at_max_steps = c.max_steps > 0 && pos.step >= c.max_steps;
    if (c.save_every > 0 && pos.step % c.save_every == 0 && pos.batch < nb && !at_max_steps) save_last(run);
    stop_if_signalled(run, progress, sig);
    if (at_max_steps) break;
  }
  progress.finish();
  run.task->end_epoch(pos.epoch);
  epoch.lr = lr;
  return epoch;
}

// Data parallel: the validation means of every rank's shard, combined by their sample counts
// (a task that validates the whole split on every rank gives no "count": its figures stand).
nlohmann::json combine_validation(Run& run, nlohmann::json val) {
  if (!run.dist || !val.contains("count")) return val;
  const double count = val.at("count").get<double>();
  std::vector<double> values = {count, val.value("skipped", 0.0)};
  for (const auto& m : run.metrics) values.push_back(val.at(m.name).get<double>() * count);
  run.dist->all_reduce_sum(values);
  val["count"] = static_cast<int64_t>(values[0]);
  val["skipped"] = static_cast<int64_t>(values[1]);
  for (size_t i = 0; i < run.metrics.size(); ++i) val[run.metrics[i].name] = values[2 + i] / std::max(values[0], 1.0);
  return val;
}

// Validation and the epoch row, the log line, best.pt, the plateau schedule and last.pt.
void end_epoch(Run& run, const Window& trained) {
  const TrainConfig& c = run.config;
  Position& pos = run.pos;
  if (pos.sums.empty()) {
    throw data_error("no readable training sample in " + c.data + "; HINT: check the dataset's files");
  }
  const double train_seconds = seconds_since(trained.start);  // before validation
  const double train_rate = double(trained.units) / std::max(train_seconds, 1e-9);
  const nlohmann::json val = combine_validation(run, run.task->validate(c.limit_val_batches));
  const std::string unit = run.task->throughput_unit();
  nlohmann::json row = {{"kind", "epoch"}, {"epoch", pos.epoch + 1}, {"step", pos.step},
                        {"lr", trained.lr}};
  put_training_figures(run, pos.sums, "train_", row);
  row["train_skipped"] = run.task->train_data().skipped();
  row[unit + "_per_s"] = train_rate;
  row["epoch_seconds"] = train_seconds;
  row["elapsed"] = run.elapsed();
  for (const auto& m : run.metrics) row["val_" + m.name] = val.at(m.name);
  row["val_skipped"] = val.value("skipped", int64_t{0});
  const bool epoch_done = pos.batch >= run.batches_per_epoch;
  if (!epoch_done) row["partial"] = true;  // stopped inside the epoch (--max-steps)
  if (run.dist) {
    row["ranks"] = run.world_size();
    if (run.reducer) {  // what the backward pass did not hide of the gradient all-reduce
      const auto [wait, steps] = run.reducer->take_stats();
      row["allreduce_wait_ms"] = steps > 0 ? 1000.0 * wait / double(steps) : 0.0;
      row["allreduce_mb"] = double(run.reducer->bytes_per_step()) / double(1 << 20);
    }
  }
  spdlog::info("epoch {}/{}: train {} | {} {} | {:.0f} {}/s, {}", pos.epoch + 1, c.epochs,
               format_metrics(run.metrics, row, "train_", true, " "), run.task->validation_name(),
               format_metrics(run.metrics, row, "val_", false, " "), train_rate, unit,
               format_duration(train_seconds));
  if (row["train_skipped"].get<int64_t>()) {
    spdlog::warn("epoch {}: skipped {} unreadable samples", pos.epoch + 1, row["train_skipped"].get<int64_t>());
  }
  run.last_metrics = row;
  if (run.writer()) {
    run.dir->append_metrics(row);
    write_curves_png(run.dir->curves_png().string(), run.dir->read_metrics(), run.metrics);
  }
  const double metric = row.at(c.best_metric).get<double>();
  const bool higher = run.best_goal == Goal::kMax;
  const bool is_best = !pos.has_best || (higher ? metric > pos.best : metric < pos.best);
  if (is_best) {
    pos.has_best = true;
    pos.best = metric;
    pos.best_epoch = pos.epoch + 1;
  }
  if (run.schedule->observe(metric, run.best_goal)) {
    spdlog::info("{} stalled for {} epochs: lr now {}", c.best_metric, c.plateau_patience,
                 run.schedule->lr(pos.step));
  }
  if (epoch_done) {  // checkpoints record the position to continue from: next epoch, batch 0
    ++pos.epoch;
    pos.batch = 0;
    pos.sums = {};
  }
  save_last(run);
  if (is_best) save_best(run);
}

// What the run resolved (input geometry, pipelines, threads, workers, precision, device), for
// the log's first lines and config.json.
nlohmann::json resolved(const Run& run) {
  nlohmann::json r = run.task->resolved_input();
  r["precision"] = precision_name(run.precision);
  r["device"] = run.device.str();
  r["threads"] = at::get_num_threads();
  r["openmp_wait"] = openmp_wait_setting();
  r["workers"] = run.config.workers;
  if (run.dist) {
    r["ranks"] = run.world_size();
    r["backend"] = run.dist->backend();
    r["global_batch"] = run.config.batch_size * run.config.accumulate * run.world_size();
  }
  return r;
}

nlohmann::json config_record(const Run& run) {
  nlohmann::json j = to_json(run.config);
  j["resolved"] = resolved(run);
  return j;
}

std::string join_numbers(const nlohmann::json& list) {
  std::string out;
  for (const auto& v : list) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
    out += (out.empty() ? "" : ", ") + std::string(buf);
  }
  return out;
}

void log_resolved(const Run& run) {
  const nlohmann::json r = resolved(run);
  if (r.contains("input")) {
    const auto shape = r.at("input").get<std::vector<int64_t>>();
    spdlog::info("input {} x {} x {}, normalised with mean [{}] std [{}]", shape.at(0), shape.at(1), shape.at(2),
                 join_numbers(r.at("mean")), join_numbers(r.at("std")));
  }
  if (r.contains("train_pipeline")) spdlog::info("train pipeline: {}", r.at("train_pipeline").get<std::string>());
  if (r.contains("eval_pipeline")) spdlog::info("eval pipeline: {}", r.at("eval_pipeline").get<std::string>());
  for (const auto& note : r.value("notes", nlohmann::json::array())) spdlog::info("{}", note.get<std::string>());
  spdlog::info("{} on {}, {} intra-op thread(s), {} loader worker(s)", r.at("precision").get<std::string>(),
               r.at("device").get<std::string>(), r.at("threads").get<int>(), r.at("workers").get<int>());
  if (run.dist) {
    spdlog::info("data parallel: {} ranks over {} ({} local), global batch {} = {} per rank x {}{} ranks; "
                 "{:.2f} MB of gradients all-reduced per step in {} buckets; batch norm {}",
                 run.world_size(), run.dist->backend(), run.dist->env().local_world_size, r.at("global_batch").get<int64_t>(),
                 run.config.batch_size, run.config.accumulate > 1 ? std::to_string(run.config.accumulate) + " batches x " : "",
                 run.world_size(), run.reducer ? double(run.reducer->bytes_per_step()) / (1 << 20) : 0.0,
                 run.reducer ? run.reducer->bucket_count() : 0, run.config.sync_bn ? "synchronised (--sync-bn)" : "statistics per rank, buffers broadcast from rank 0");
  }
}

TrainSummary fit(Run& run) {
  const TrainConfig& c = run.config;
  spdlog::info("training {} for {} epochs; run directory {}", run.task->describe(), c.epochs,
               run.dir->path().string());
  log_resolved(run);
  spdlog::info("{} optimizer, lr {} ({} schedule, {} warmup steps of {})", c.optimizer, c.lr, c.schedule,
               run.schedule->warmup_steps(), run.schedule->total_steps());
  if (!c.freeze.empty() || !c.weights.empty()) {
    for (const auto& line : run.freezer.table(run.task->module())) spdlog::info("{}", line);
  }
  run.dir->set_metric_columns(metric_columns(run));
  run.session_start = Clock::now();
  run.elapsed_before = run.pos.elapsed;
  TrainSummary summary;
  while (stop_reason(run).empty()) {
    const Window trained = train_epoch(run);
    end_epoch(run, trained);
    summary.final_metrics = run.last_metrics;
  }
  summary.stop_reason = stop_reason(run);
  if (summary.stop_reason == "patience") {
    spdlog::info("early stop: {} has not improved for {} epochs (best {:.4f} at epoch {})",
                 c.best_metric, c.patience, run.pos.best, run.pos.best_epoch);
  }
  summary.run_dir = run.dir->path().string();
  summary.val_name = run.task->validation_name();
  summary.best_metric = c.best_metric;
  summary.metrics = run.metrics;
  summary.epochs_done = run.pos.epoch;
  summary.steps_done = run.pos.step;
  summary.best = run.pos.best;
  summary.rank = run.dist ? run.dist->rank() : 0;
  return summary;
}

// A run's last.pt, or previous.pt when last.pt is missing (a save stopped between its two
// renames). A damaged last.pt is an error that offers previous.pt when that one is intact.
Checkpoint load_latest_checkpoint(const RunDir& run_dir, std::string* path) {
  const std::string last = run_dir.last_checkpoint().string(), previous = run_dir.previous_checkpoint().string();
  std::error_code ec;
  if (!fs::is_regular_file(last, ec)) {
    spdlog::warn("{} is missing (a save was stopped); resuming from {}", last, previous);
    *path = previous;
    return load_checkpoint(previous);
  }
  *path = last;
  try {
    return load_checkpoint(last);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kBadData || !fs::is_regular_file(previous, ec)) throw;
    std::string at;
    try {
      const nlohmann::json pos = load_checkpoint(previous).meta.at("position");
      at = "epoch " + pos.at("epoch").dump() + ", step " + pos.at("step").dump();
    } catch (const std::exception&) {
      throw e;  // no good previous checkpoint to offer
    }
    std::string what = e.what();
    what = what.substr(0, what.rfind("; HINT:"));
    throw data_error(what + "; HINT: the previous checkpoint " + previous + " is intact (" + at +
                     "): continue from it with `zoo train --resume " + previous + "`");
  }
}

// Resuming from another checkpoint than last.pt (previous.pt after a damaged last.pt): a
// damaged last.pt is renamed to last.damaged.pt, so that the next save does not keep it as
// previous.pt in place of the good one.
void set_aside_damaged_last(const RunDir& run_dir, const std::string& path) {
  const fs::path last = run_dir.last_checkpoint();
  std::error_code ec;
  if (fs::equivalent(path, last, ec) || !fs::is_regular_file(last, ec)) return;
  try {
    load_checkpoint(last.string());
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kBadData) return;
    const fs::path aside = last.parent_path() / "last.damaged.pt";
    fs::rename(last, aside, ec);
    std::error_code gone;
    if (ec && !fs::exists(last, gone)) return;  // another rank of this launch set it aside first
    if (ec) throw io_error("cannot rename the damaged " + last.string() + " to " + aside.string() + ": " + ec.message());
    spdlog::warn("{} is damaged; renamed it to {}", last.string(), aside.string());
  }
}

}  // namespace

TrainSummary train(const TrainConfig& config, const TaskFactory& factory) {
  validate(config);
  std::shared_ptr<Distributed> dist = join_if_launched(config);
  Run run = prepare(config, factory, /*resuming=*/false, {0, 0}, dist);  // bad input fails before a run directory exists
  std::string path;
  if (run.writer()) {
    run.dir.emplace(RunDir::create(run.config.runs_dir, run.config.name, run.config.model));
    path = run.dir->path().string();
  }
  if (dist) path = dist->broadcast_string(path);  // rank 0 numbered it; the others only read it
  if (!run.writer()) run.dir.emplace(RunDir::of_rank_zero(path));
  if (run.writer()) {
    run.dir->attach_log();
    run.dir->write_config(config_record(run));
    run.task->write_run_files(*run.dir);
  }
  return fit(run);
}

TrainSummary resume(const std::string& run_or_checkpoint, const nlohmann::json& overrides,
                    const TaskFactory& factory) {
  // What may change on resume: the plan and what does not touch the numbers.
  static const std::vector<std::string> kOverridable = {"epochs", "max_steps", "patience", "workers", "quiet",
                                                        "dist_backend", "dist_timeout", "bucket_mb"};
  for (const auto& item : overrides.items()) {
    if (std::find(kOverridable.begin(), kOverridable.end(), item.key()) != kOverridable.end()) continue;
    std::string allowed;
    for (size_t i = 0; i < kOverridable.size(); ++i) {
      allowed += (i == 0 ? "" : i + 1 == kOverridable.size() ? " and " : ", ") + flag_of(kOverridable[i]);
    }
    throw usage_error(flag_of(item.key()) + " cannot be given with --resume: the run continues "
                      "with the options it was started with; HINT: only " + allowed +
                      " may change on resume");
  }
  std::error_code ec;
  fs::path dir = run_or_checkpoint;
  const bool file_given = fs::is_regular_file(dir, ec);
  std::optional<Checkpoint> given;
  if (file_given) {  // runs/x/checkpoints/last.pt: the file must be a checkpoint inside a run
    given = load_checkpoint(run_or_checkpoint);
    dir = fs::absolute(dir, ec).parent_path().parent_path();
    if (fs::absolute(run_or_checkpoint, ec).parent_path().filename() != "checkpoints" ||
        !fs::is_regular_file(dir / "config.json", ec)) {
      throw missing_error(run_or_checkpoint + " is not inside a run directory (RUN/checkpoints/" +
                        fs::path(run_or_checkpoint).filename().string() + " beside RUN/config.json); HINT: "
                        "--resume takes a run directory written by `zoo train` or one of its checkpoints");
    }
  }
  RunDir run_dir = RunDir::open(dir);
  std::string path = file_given ? run_or_checkpoint : "";
  Checkpoint peek = file_given ? std::move(*given) : load_latest_checkpoint(run_dir, &path);
  if (file_given) set_aside_damaged_last(run_dir, path);
  nlohmann::json merged = peek.meta.at("config");
  for (const auto& item : overrides.items()) merged[item.key()] = item.value();
  TrainConfig config = train_config_from_json(merged);
  validate(config);
  std::shared_ptr<Distributed> dist = join_if_launched(config);
  const nlohmann::json at = peek.meta.at("position");
  const int saved_world = peek.meta.value("distributed", nlohmann::json::object()).value("world_size", 1);
  const int world = dist ? dist->world_size() : 1;
  if (saved_world != world && at.at("batch").get<int64_t>() > 0) {
    // Batch k of an epoch means k x batch x ranks samples: another world size cannot continue it.
    throw usage_error(path + " was saved inside an epoch by " + std::to_string(saved_world) + " rank(s); it "
                      "continues only with " + std::to_string(saved_world) + "; HINT: resume with that many "
                      "ranks (torchrun --nproc_per_node / zoo train --nproc), or from a checkpoint at an epoch end");
  }
  const torch::Device device = device_of_rank(config, local_rank_of(dist.get()));
  const Checkpoint ckpt = device.is_cpu() ? std::move(peek) : load_checkpoint(path, device);
  const bool writer = !dist || dist->rank() == 0;
  if (writer) run_dir.attach_log();
  spdlog::info("resuming {} from {}", dir.string(), path);
  if (saved_world != world && writer) {
    spdlog::warn("{} was saved by {} rank(s) and continues with {}: the global batch changes from {} to {}", path,
                 saved_world, world, config.batch_size * config.accumulate * saved_world,
                 config.batch_size * config.accumulate * world);
  }
  Run run = prepare(config, factory, /*resuming=*/true, {at.at("epoch").get<int64_t>(), at.at("batch").get<int64_t>()},
                    dist);
  run.dir.emplace(std::move(run_dir));
  restore(run, ckpt, path);
  run.dir->set_metric_columns(metric_columns(run));
  if (run.writer()) {
    run.dir->truncate_metrics(run.pos.step);
    run.dir->write_config(config_record(run));
  }
  return fit(run);
}

}  // namespace zoo
