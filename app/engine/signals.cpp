// Stop-signal handling; see signals.h. The handler only touches a lock-free atomic and, on
// the second signal, calls _exit, both async-signal-safe.
#include "app/engine/signals.h"

#include <atomic>
#include <csignal>

#include <unistd.h>

namespace zoo {

namespace {

std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  if (g_signal.exchange(sig) != 0) _exit(128 + sig);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_requested() { return g_signal.load(); }

void clear_stop_request() { g_signal.store(0); }

}  // namespace zoo
