// `zoo train --nproc N`: zoo's own launcher of N local ranks, for machines without torchrun.
// It runs this same command line (without --nproc) N times with the environment torchrun
// would give (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free
// MASTER_PORT), forwards SIGINT/SIGTERM to them once (they save last.pt and stop), and waits.
// When a rank fails the others stop on their own (their collectives fail); ranks still running
// after --dist-timeout are terminated. Leaves out: several nodes and elastic restarts (that is
// torchrun's job: `torchrun --no_python ... zoo train`).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace zoo {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick); io_error when none.
int free_port();

// This process's command line, as the kernel holds it (/proc/self/cmdline).
std::vector<std::string> own_command_line();

// `args` without the option `flag` and its value ("--nproc 2", "--nproc=2").
std::vector<std::string> without_option(const std::vector<std::string>& args, const std::string& flag);

// Runs `args` (args[0] is replaced by this executable) as `nproc` local ranks and waits for all
// of them. Returns when every rank exited 0; otherwise throws the zoo::Error whose exit code is
// the first failed rank's, naming it.
void launch_local_ranks(int nproc, const std::vector<std::string>& args, std::chrono::seconds timeout);

}  // namespace zoo
