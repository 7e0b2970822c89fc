// One register_X per subcommand: each adds its subcommand to the app, binds an options struct
// with defaults and help lines, and sets a callback that runs it. main() only wires them.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace zoo {

struct BeamOptions;  // app/engine/caption.h

void register_list(CLI::App& app);
void register_train(CLI::App& app);
void register_finetune(CLI::App& app);
void register_features(CLI::App& app);
void register_eval(CLI::App& app);
void register_predict(CLI::App& app);
void register_convert(CLI::App& app);
void register_info(CLI::App& app);
void register_forward(CLI::App& app);
void register_bench(CLI::App& app);
void register_data(CLI::App& app);
void register_sample(CLI::App& app);
void register_weights(CLI::App& app);
void register_caption(CLI::App& app);
void register_verify(CLI::App& app);

// For an output flag that writes tensors (forward --output, features --out): `path` must name a
// .safetensors file; usage_error otherwise.
void require_safetensors(const char* flag, const std::string& path);

// Runs `what` for each name. With one name its error is the command's. With several, an error
// for one is printed and the others still run; the first failure's kind is thrown at the end
// as a one-line summary ("2 of 5 could not be <verb> (errors above)").
void for_each_name(const std::vector<std::string>& names, const char* verb,
                   const std::function<void(const std::string&)>& what);

// For eval and predict: the leading positional may be a model name; the rest are inputs.
// Returns the model name ("" when none) and removes it from `inputs`.
std::string take_model_name(std::vector<std::string>& inputs);

// --beam, --max-len and --length-norm of beam-search captioning (zoo caption, and zoo eval of
// a captioner, whose help lines start with `prefix`).
void add_beam_options(CLI::App* cmd, BeamOptions& beam, const std::string& prefix = "");

// Option checks whose message reads "--flag: must be positive, got 0" (CLI11's own print the
// whole double range).
extern const CLI::Validator kPositiveNumber;
extern const CLI::Validator kNonNegativeNumber;

// One line for a command-line error (exit 2): "zoo: error: zoo train: --epochs: must be
// positive, got 0; HINT: zoo train --help", naming an unknown subcommand as such.
void print_parse_error(CLI::App& app, const CLI::ParseError& e);

// The help line of every command's --threads (0: resolve_threads in common/device.h).
extern const char* const kThreadsHelp;

// --threads, non-negative.
CLI::Option* add_threads_option(CLI::App* cmd, int& threads);

}  // namespace zoo
