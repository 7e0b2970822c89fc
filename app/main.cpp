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
#include <cstdlib>

namespace {

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
  zoo::install_stop_handlers();
  zoo::set_download_interrupt_check(zoo::stop_requested);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, version or the parse error
    return code == 0 ? 0 : 2;
  } catch (const zoo::Error& e) {
    std::fprintf(stderr, "zoo: error: %s\n", e.what());
    return zoo::exit_code(e);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "zoo: internal error (LibTorch): %s\n", e.what_without_backtrace());
    return 70;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zoo: internal error: %s\n", e.what());
    return 70;
  }
}
