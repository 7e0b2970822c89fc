// zoo's entry point: builds the CLI11 app from the subcommands, runs the chosen one and turns
// exceptions into one error line and the documented exit codes (0 ok, 2 usage, 65 bad data,
// 66 missing input, 70 internal, 74 I/O, 130/143 signal). The only place that exits.
#include "app/commands/commands.h"
#include "app/engine/allocator.h"
#include "app/engine/signals.h"
#include "common/error.h"
#include "weights/hub.h"

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <new>
#include <string>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace {

// OpenMP threads (libgomp, under LibTorch and OpenBLAS) spin 300,000 times, about a millisecond,
// waiting for work before they sleep. Where other processes share the cores, a spinning thread
// takes the time slice its preempted partner needs, and a 2-thread LeNet-5 epoch ran 13x slower
// than with 1 thread, and with 10,000 spins 2-3x (docs/BENCHMARKS.md, "Thread defaults"), as
// fast as before on idle cores. libgomp reads GOMP_SPINCOUNT once, in its
// constructor, before main() and before any environment change can reach it (glibc resets the
// environment after .preinit_array), so this function, which runs before every shared library's
// constructor, re-executes zoo once with the variable set. That costs the dynamic loading only
// (about 30 ms; LibTorch's own start-up has not run yet). A user's OMP_WAIT_POLICY or
// GOMP_SPINCOUNT is kept as it is. If the re-execution fails, zoo goes on with libgomp's defaults.
void set_openmp_spin_count(int /*argc*/, char** argv, char** envp) {
  if (argv == nullptr || envp == nullptr) return;
  size_t count = 0;
  for (; envp[count] != nullptr; ++count) {
    if (std::strncmp(envp[count], "OMP_WAIT_POLICY=", 16) == 0 ||
        std::strncmp(envp[count], "GOMP_SPINCOUNT=", 15) == 0) {
      return;
    }
  }
  char** env = static_cast<char**>(std::malloc((count + 2) * sizeof(char*)));
  if (env == nullptr) return;
  std::memcpy(env, envp, count * sizeof(char*));
  static char spin[] = "GOMP_SPINCOUNT=10000";
  env[count] = spin;
  env[count + 1] = nullptr;
  ::execve("/proc/self/exe", argv, env);
  std::free(env);
}

__attribute__((section(".preinit_array"), used)) void (*const run_before_libraries)(int, char**, char**) =
    set_openmp_spin_count;

void setup_logging() {
  const bool color = std::getenv("NO_COLOR") == nullptr;
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
      color ? spdlog::color_mode::automatic : spdlog::color_mode::never);
  sink->set_pattern("[%T] %^%l%$ %v");
  auto logger = std::make_shared<spdlog::logger>("zoo", sink);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  zoo::keep_freed_memory();  // before any tensor is allocated
  setup_logging();
  CLI::App app{"zoo: a LibTorch model zoo and training CLI (LeNet-5 to DenseNet, no Python)",
               "zoo"};
  app.require_subcommand(1);
  // Options of the app itself (--offline) may also follow the subcommand's.
  app.fallthrough(true);
  bool offline = false;
  app.add_flag("--offline", offline,
               "Never download: pretrained weights must already be in the cache (also ZOO_OFFLINE=1)")
      ->each([](const std::string&) { zoo::set_offline(true); });
  app.set_version_flag("--version", "zoo 0.1.0");
  zoo::register_list(app);
  zoo::register_info(app);
  zoo::register_train(app);
  zoo::register_finetune(app);
  zoo::register_eval(app);
  zoo::register_predict(app);
  zoo::register_sample(app);
  zoo::register_caption(app);
  zoo::register_features(app);
  zoo::register_convert(app);
  zoo::register_forward(app);
  zoo::register_bench(app);
  zoo::register_data(app);
  zoo::register_weights(app);
  zoo::register_verify(app);
  zoo::install_stop_handlers();
  zoo::set_download_interrupt_check(zoo::stop_requested);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // help, version
    zoo::print_parse_error(app, e);
    return 2;
  } catch (const zoo::Error& e) {
    std::fprintf(stderr, "zoo: error: %s\n", e.what());
    return zoo::exit_code(e);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    if (what.find("can't allocate memory") != std::string::npos) {  // LibTorch's CPU allocator
      std::fprintf(stderr, "zoo: error: out of memory: %s; HINT: use a smaller --batch-size, model or input\n",
                   what.substr(0, what.find('\n')).c_str());
      return 74;
    }
    std::fprintf(stderr, "zoo: internal error (LibTorch): %s\n", what.c_str());
    return 70;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "zoo: error: out of memory; HINT: use a smaller --batch-size, model or input\n");
    return 74;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zoo: internal error: %s\n", e.what());
    return 70;
  }
}
