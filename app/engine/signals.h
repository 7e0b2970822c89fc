// Graceful stop on SIGINT/SIGTERM: the first signal only sets a flag that the trainer checks
// after each step (it then saves last.pt and stops with exit 130/143); a second signal exits
// at once with the same code.
#pragma once

namespace zoo {

void install_stop_handlers();
// The signal that asked us to stop, or 0.
int stop_requested();
// Forget a pending request (tests; after a handled stop).
void clear_stop_request();

}  // namespace zoo
