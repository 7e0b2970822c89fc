// The local-rank launcher; see launch.h.
#include "app/engine/launch.h"

#include "app/engine/signals.h"
#include "common/error.h"
#include "common/read_file.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace zoo {

namespace {

using Clock = std::chrono::steady_clock;

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

// The zoo::Error that exits with the failed rank's code.
Error failure_of(int rank, int status) {
  const std::string what = "rank " + std::to_string(rank) + " " + describe_status(status) +
                           " (its own error is above); the other ranks were stopped";
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGINT || sig == SIGTERM) return Error(ErrorKind::kInterrupted, what, sig);
    return internal_error(what);
  }
  switch (WEXITSTATUS(status)) {
    case 2: return usage_error(what);
    case 65: return data_error(what);
    case 66: return missing_error(what);
    case 74: return io_error(what);
    case 128 + SIGINT: return Error(ErrorKind::kInterrupted, what, SIGINT);
    case 128 + SIGTERM: return Error(ErrorKind::kInterrupted, what, SIGTERM);
    default: return internal_error(what);
  }
}

}  // namespace

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw io_error(std::string("cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw io_error(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string> own_command_line() {
  const std::string raw = read_file_bytes("/proc/self/cmdline");
  std::vector<std::string> args;
  size_t start = 0;
  while (start < raw.size()) {
    const size_t end = raw.find('\0', start);
    args.push_back(raw.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return args;
}

std::vector<std::string> without_option(const std::vector<std::string>& args, const std::string& flag) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag) {
      ++i;  // and its value
      continue;
    }
    if (args[i].rfind(flag + "=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

void launch_local_ranks(int nproc, const std::vector<std::string>& args, std::chrono::seconds timeout) {
  if (nproc < 2) throw usage_error("--nproc must be 2 or more, got " + std::to_string(nproc));
  if (std::getenv("WORLD_SIZE") != nullptr) {
    throw usage_error("--nproc starts its own ranks, but WORLD_SIZE is already set (torchrun?); HINT: "
                      "drop --nproc under torchrun, which starts the ranks itself");
  }
  const std::string port = std::to_string(free_port());
  std::vector<pid_t> pids;
  pid_t group = 0;
  std::fflush(stdout);
  std::fflush(stderr);
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t p : pids) ::kill(p, SIGKILL);
      throw io_error(std::string("cannot start rank ") + std::to_string(rank) + ": " + std::strerror(errno));
    }
    if (pid == 0) {
      // Their own process group: a Ctrl-C reaches the launcher, which forwards it once.
      ::setpgid(0, group);
      const std::string r = std::to_string(rank), n = std::to_string(nproc);
      ::setenv("RANK", r.c_str(), 1);
      ::setenv("LOCAL_RANK", r.c_str(), 1);
      ::setenv("WORLD_SIZE", n.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", n.c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "zoo: error: cannot run /proc/self/exe for rank %d: %s\n", rank, std::strerror(errno));
      ::_exit(70);
    }
    if (group == 0) group = pid;
    ::setpgid(pid, group);  // also here: whichever of parent and child runs first
    pids.push_back(pid);
  }
  std::vector<int> status(pids.size(), -1);
  size_t running = pids.size();
  int failed = -1;  // the first rank that failed
  bool forwarded = false, terminated = false;
  Clock::time_point failed_at{};
  while (running > 0) {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (status[i] != -1) continue;
      int s = 0;
      const pid_t done = ::waitpid(pids[i], &s, WNOHANG);
      if (done != pids[i]) continue;
      status[i] = s;
      --running;
      if (failed < 0 && !(WIFEXITED(s) && WEXITSTATUS(s) == 0)) {
        failed = static_cast<int>(i);
        failed_at = Clock::now();
      }
    }
    const int sig = stop_requested();
    if (sig != 0 && !forwarded) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (status[i] == -1) ::kill(pids[i], sig);
      }
      forwarded = true;
    }
    // The others' collectives fail when a rank is gone; a rank still waiting after the
    // timeout (or 30 s after an interrupt) is stopped.
    const auto grace = forwarded ? std::chrono::seconds(30) : timeout;
    if (failed >= 0 && running > 0 && Clock::now() - failed_at > grace) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (status[i] == -1) ::kill(pids[i], terminated ? SIGKILL : SIGTERM);
      }
      if (!terminated) failed_at = Clock::now() - grace + std::chrono::seconds(10);
      terminated = true;
    }
    if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (failed >= 0) throw failure_of(failed, status[failed]);
}

}  // namespace zoo
