// A loopback HTTP/1.1 file server for download tests (127.0.0.1, a free port): GET /NAME serves
// ROOT/NAME with Content-Length, honours "Range: bytes=N-" (206 + Content-Range, 416 past the
// end), 404 otherwise, one connection per request (Connection: close). Faults on demand: cut the
// next response of a file after N body bytes, stall a file (16 bytes, then nothing), or send
// slowly. It records every request (path and range start) for the tests to check.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace zoo::test {

class LoopbackServer {
 public:
  struct Request {
    std::string path;
    long long range_start = -1;  // -1: no Range header
  };

  explicit LoopbackServer(std::filesystem::path root) : root_(std::move(root)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("bind/listen on 127.0.0.1 failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~LoopbackServer() {
    stop_ = true;
    acceptor_.join();
    ::close(listen_fd_);
    std::vector<std::thread> handlers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      handlers.swap(handlers_);
    }
    for (auto& t : handlers) t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The next GET of /name sends `bytes` body bytes (of the promised whole), then closes.
  void cut_next(const std::string& name, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    cuts_[name] = bytes;
  }
  // Every GET of /name sends 16 body bytes, then nothing until the server stops.
  void stall(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    stalls_.insert(name);
  }
  // Body bytes go out in chunks of `chunk` with `pause` between them.
  void throttle(size_t chunk, std::chrono::milliseconds pause) {
    std::lock_guard<std::mutex> lock(mutex_);
    chunk_ = chunk;
    pause_ = pause;
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  size_t count(const std::string& name) {
    size_t n = 0;
    for (const auto& r : requests()) n += r.path == "/" + name;
    return n;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      handlers_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  bool send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  void serve(int fd) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      head.append(buf, static_cast<size_t>(n));
    }
    const size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    Request req;
    req.path = head.substr(sp1 + 1, sp2 - sp1 - 1);
    const size_t range = head.find("Range: bytes=");
    if (range != std::string::npos) req.range_start = std::stoll(head.substr(range + 13));
    size_t cut = 0;
    bool cutting = false, stalling = false;
    size_t chunk = 0;
    std::chrono::milliseconds pause{0};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(req);
      const std::string name = req.path.substr(1);
      if (auto it = cuts_.find(name); it != cuts_.end()) {
        cut = it->second;
        cutting = true;
        cuts_.erase(it);
      }
      stalling = stalls_.count(name) > 0;
      chunk = chunk_;
      pause = pause_;
    }
    const std::filesystem::path file = root_ / req.path.substr(1);
    std::error_code ec;
    if (req.path.find("..") != std::string::npos || !std::filesystem::is_regular_file(file, ec)) {
      const std::string r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      send_all(fd, r.data(), r.size());
      return;
    }
    std::ifstream in(file, std::ios::binary);
    const std::string body((std::istreambuf_iterator<char>(in)), {});
    const size_t start = req.range_start < 0 ? 0 : static_cast<size_t>(req.range_start);
    if (start >= body.size() && req.range_start >= 0) {
      const std::string r = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
                            std::to_string(body.size()) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      send_all(fd, r.data(), r.size());
      return;
    }
    std::string r = req.range_start < 0 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 206 Partial Content\r\n";
    r += "Content-Length: " + std::to_string(body.size() - start) + "\r\n";
    if (req.range_start >= 0) {
      r += "Content-Range: bytes " + std::to_string(start) + "-" + std::to_string(body.size() - 1) + "/" +
           std::to_string(body.size()) + "\r\n";
    }
    r += "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
    if (!send_all(fd, r.data(), r.size())) return;
    size_t end = body.size();
    if (cutting) end = std::min(end, start + cut);
    if (stalling) end = std::min(end, start + 16);
    for (size_t pos = start; pos < end;) {
      const size_t n = chunk > 0 ? std::min(chunk, end - pos) : end - pos;
      if (!send_all(fd, body.data() + pos, n)) return;
      pos += n;
      if (chunk > 0 && pos < end) std::this_thread::sleep_for(pause);
    }
    if (stalling) {
      while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::filesystem::path root_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> handlers_;
  std::vector<Request> requests_;
  std::map<std::string, size_t> cuts_;
  std::set<std::string> stalls_;
  size_t chunk_ = 0;
  std::chrono::milliseconds pause_{0};
};

}  // namespace zoo::test
