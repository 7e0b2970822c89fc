// Verified downloads; see download.h.
#include "common/download.h"

#include "common/error.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

namespace zoo {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_offline{false};
std::atomic<int (*)()> g_interrupt_check{nullptr};

double env_number(const char* name, double fallback) {
  const char* raw = std::getenv(name);
  const std::string v = raw == nullptr ? "" : raw;
  if (v.empty()) return fallback;
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used == v.size() && x >= 0) return x;
  } catch (const std::exception&) {
  }
  throw usage_error(std::string("$") + name + " must be a non-negative number, got '" + v + "'");
}

}  // namespace

void set_offline(bool offline) { g_offline = offline; }
void set_download_interrupt_check(int (*check)()) { g_interrupt_check = check; }

DownloadOptions download_settings() {
  DownloadOptions o;
  const char* offline = std::getenv("ZOO_OFFLINE");
  o.offline = g_offline || (offline != nullptr && *offline != 0 && std::string(offline) != "0");
  o.stall_timeout_s = env_number("ZOO_DOWNLOAD_TIMEOUT", o.stall_timeout_s);
  o.retries = static_cast<int>(env_number("ZOO_DOWNLOAD_RETRIES", o.retries));
  o.progress = ::isatty(STDERR_FILENO) == 1;
  if (int (*check)() = g_interrupt_check.load()) o.interrupted = check;
  return o;
}

std::string file_digest(const std::string& path, DigestKind kind) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw io_error("cannot read " + path + ": " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = kind == DigestKind::kMd5 ? EVP_md5() : EVP_sha256();
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    throw internal_error("OpenSSL could not start a digest");
  }
  std::vector<unsigned char> buffer(1 << 20);
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f.get())) > 0) {
    EVP_DigestUpdate(ctx.get(), buffer.data(), n);
  }
  if (std::ferror(f.get())) throw io_error("cannot read " + path + ": " + std::strerror(errno));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::string digest_problem(const std::string& path, const std::vector<ExpectedDigest>& expected) {
  std::string digests[2];  // computed on first use: SHA-256, MD5
  for (const ExpectedDigest& e : expected) {
    std::string& digest = digests[e.kind == DigestKind::kMd5 ? 1 : 0];
    if (digest.empty()) digest = file_digest(path, e.kind);
    const bool ok = e.prefix ? digest.compare(0, e.hex.size(), e.hex) == 0 : digest == e.hex;
    if (!ok) {
      const char* name = e.kind == DigestKind::kMd5 ? "MD5" : "SHA-256";
      return std::string("its ") + name + " is " + digest + ", " + e.origin + " promises " + e.hex + (e.prefix ? "..." : "");
    }
  }
  return "";
}

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// An exclusive flock on PATH held for the object's life.
class FileLock {
 public:
  FileLock(const std::string& path, const std::string& hint) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw io_error("cannot create the lock file " + path + ": " + std::strerror(errno) + "; HINT: " + hint);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      spdlog::info("waiting for another process that is fetching the same file ({})", path);
      while (::flock(fd_, LOCK_EX) != 0) {
        if (errno != EINTR) throw io_error("cannot lock " + path + ": " + std::strerror(errno));
      }
    }
  }
  ~FileLock() { ::close(fd_); }  // closing releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

int64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

std::string megabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / (1024.0 * 1024.0));
  return buf;
}

// One transfer's state, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  FILE* out = nullptr;
  int64_t offset = 0;       // bytes already in the partial file when the transfer began
  bool checked_status = false;
  bool write_failed = false;
  int write_errno = 0;
  int signal = 0;           // set when `interrupted` asked to stop
  bool stalled = false;     // no byte for stall_timeout_s
  curl_off_t last_bytes = 0;
  std::chrono::steady_clock::time_point last_byte;
  const DownloadOptions* options = nullptr;
  std::string label;
  std::chrono::steady_clock::time_point start, last_print;
  bool printed = false;
};

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->checked_status) {
    t->checked_status = true;
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    if (t->offset > 0 && code == 200) {
      // The server ignored the range and sends the whole file: start the partial file over.
      if (std::fflush(t->out) != 0 || ::ftruncate(::fileno(t->out), 0) != 0 || std::fseek(t->out, 0, SEEK_SET) != 0) {
        t->write_failed = true;
        t->write_errno = errno;
        return 0;
      }
      t->offset = 0;
    }
  }
  const size_t n = std::fwrite(data, size, count, t->out);
  if (n != count) {
    t->write_failed = true;
    t->write_errno = errno;
    return 0;
  }
  return size * count;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->options->interrupted) {
    t->signal = t->options->interrupted();
    if (t->signal != 0) return 1;  // aborts the transfer
  }
  const auto clock = std::chrono::steady_clock::now();
  // Our own stall clock: libcurl's low-speed check averages over several seconds.
  if (now != t->last_bytes) {
    t->last_bytes = now;
    t->last_byte = clock;
  } else if (std::chrono::duration<double>(clock - t->last_byte).count() > t->options->stall_timeout_s) {
    t->stalled = true;
    return 1;
  }
  if (!t->options->progress) return 0;
  if (t->printed && clock - t->last_print < std::chrono::milliseconds(250) && (total == 0 || now < total)) return 0;
  t->last_print = clock;
  t->printed = true;
  const double seconds = std::chrono::duration<double>(clock - t->start).count();
  const double rate = seconds > 0 ? static_cast<double>(now) / seconds : 0.0;
  const double done = static_cast<double>(t->offset + now);
  if (total > 0) {
    const double all = static_cast<double>(t->offset + total);
    std::fprintf(stderr, "\r%s  %s / %s  %3.0f%%  %s/s   ", t->label.c_str(), megabytes(done).c_str(),
                 megabytes(all).c_str(), 100.0 * done / all, megabytes(rate).c_str());
  } else {
    std::fprintf(stderr, "\r%s  %s  %s/s   ", t->label.c_str(), megabytes(done).c_str(), megabytes(rate).c_str());
  }
  std::fflush(stderr);
  return 0;
}

enum class Outcome { kComplete, kRetry, kRangeDone };

struct Attempt {
  Outcome outcome = Outcome::kComplete;
  std::string error;  // for kRetry: what went wrong
};

// One libcurl transfer of `url`, appended to `partial`. Throws for failures a retry cannot fix.
Attempt transfer_once(const std::string& url, const std::string& partial, const DownloadOptions& options) {
  Transfer t;
  t.options = &options;
  t.label = fs::path(partial).stem().string();
  t.offset = file_size_or_zero(partial);
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(partial.c_str(), "ab"), std::fclose);
  if (!out) throw io_error("cannot write " + partial + ": " + std::strerror(errno) + "; HINT: " + options.store_hint);
  t.out = out.get();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw internal_error("libcurl could not start a transfer");
  t.curl = curl.get();
  char error_buffer[CURL_ERROR_SIZE] = {0};
  const long stall = std::max(1L, std::lround(options.stall_timeout_s));
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "zoo/0.1 (libcurl)");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, stall);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  if (t.offset > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.offset));
  t.start = t.last_print = t.last_byte = std::chrono::steady_clock::now();
  const CURLcode rc = curl_easy_perform(c);
  if (t.printed) std::fprintf(stderr, "\n");
  if (std::fflush(out.get()) != 0 && rc == CURLE_OK) {
    throw io_error("cannot write " + partial + ": " + std::strerror(errno));
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  const std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
  if (rc == CURLE_OK) return {Outcome::kComplete, ""};
  if (t.signal != 0) {
    throw Error(ErrorKind::kInterrupted, "download of " + url + " interrupted; " + partial +
                " is kept and the next fetch resumes it", t.signal);
  }
  if (t.write_failed) throw io_error("cannot write " + partial + ": " + std::strerror(t.write_errno));
  if (t.stalled) return {Outcome::kRetry, "no data for " + std::to_string(stall) + " s"};
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    if (code == 416 && t.offset > 0) return {Outcome::kRangeDone, ""};  // nothing left to fetch
    if (code == 404 || code == 410) {
      throw missing_error("HTTP " + std::to_string(code) + " for " + url + "; HINT: check the name" +
                          (options.mirror_variable.empty() ? "" : ", or $" + options.mirror_variable + " when set"));
    }
    if (code >= 500 || code == 429 || code == 408) return {Outcome::kRetry, "HTTP " + std::to_string(code)};
    throw io_error("HTTP " + std::to_string(code) + " for " + url);
  }
  switch (rc) {
    case CURLE_FILE_COULDNT_READ_FILE:
      throw missing_error("no file at " + url + " (" + detail + "); HINT: check the path" +
                          (options.mirror_variable.empty() ? "" : " and $" + options.mirror_variable));
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      throw usage_error("cannot download " + url + ": " + detail + "; HINT: use an http, https or file URL");
    case CURLE_BAD_DOWNLOAD_RESUME:
      return {Outcome::kRangeDone, ""};  // the partial file already holds every byte
    default:
      return {Outcome::kRetry, detail};
  }
}

// Fills `partial` from `url`, with retries; throws once they are spent.
void download(const std::string& url, const std::string& partial, const DownloadOptions& options) {
  double wait = options.backoff_s;
  for (int attempt = 0;; ++attempt) {
    const Attempt a = transfer_once(url, partial, options);
    if (a.outcome != Outcome::kRetry) return;
    if (attempt >= options.retries) {
      throw io_error("download of " + url + " failed after " + std::to_string(attempt + 1) + " tries: " +
                     a.error + "; " + megabytes(static_cast<double>(file_size_or_zero(partial))) +
                     " kept in " + partial + ", the next fetch resumes it");
    }
    spdlog::warn("download of {} failed ({}); retrying in {:.1f} s from byte {}", url, a.error, wait,
                 file_size_or_zero(partial));
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    wait *= 2;
  }
}

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw io_error("cannot sync " + path + ": " + std::strerror(err));
}

}  // namespace

FetchResult fetch_file(const std::string& url, const std::string& dest, const std::vector<ExpectedDigest>& expected,
                       const DownloadOptions& options) {
  const std::string name = fs::path(dest).filename().string();
  if (expected.empty()) throw internal_error("fetch_file of " + url + " without a digest to verify");
  std::error_code ec;
  const std::string dir = fs::path(dest).parent_path().string();
  if (options.offline && !fs::exists(dest, ec)) {  // nothing to fetch, nothing to create
    throw missing_error(name + " is not in " + options.store + " " + dir + ", and offline mode (--offline or "
                        "ZOO_OFFLINE=1) does not download; HINT: copy the file there, or fetch it where " + url +
                        " is reachable");
  }
  fs::create_directories(dir, ec);
  if (ec) throw io_error("cannot create " + options.store + " " + dir + ": " + ec.message() + "; HINT: " + options.store_hint);
  FileLock lock(dest + ".lock", options.store_hint);
  if (fs::exists(dest, ec)) {
    const std::string problem = digest_problem(dest, expected);
    if (problem.empty()) return FetchResult::kCached;
    fs::remove(dest, ec);
    if (options.offline) {
      throw data_error("the stored " + dest + " is damaged (" + problem + ") and was deleted; offline, "
                       "nothing is downloaded; HINT: fetch it again where the network is reachable");
    }
    spdlog::warn("the stored {} is damaged ({}); deleted, downloading it again", dest, problem);
  }
  if (options.offline) {
    throw missing_error(name + " is not in " + options.store + " " + dir + ", and offline mode (--offline or "
                        "ZOO_OFFLINE=1) does not download; HINT: copy the file there, or fetch it where " + url +
                        " is reachable");
  }
  global_init();
  const std::string partial = dest + ".partial";
  const int64_t resumed = file_size_or_zero(partial);
  if (resumed > 0) spdlog::info("resuming {} at {}", name, megabytes(static_cast<double>(resumed)));
  spdlog::info("downloading {} to {}", url, dest);
  download(url, partial, options);
  std::string problem = digest_problem(partial, expected);
  if (!problem.empty()) {
    fs::remove(partial, ec);
    throw data_error("the download of " + url + " failed verification: " + problem + "; the file was deleted; "
                     "HINT: fetch again; if it fails again, the server" +
                     (options.mirror_variable.empty() ? "" : " (or $" + options.mirror_variable + ")") +
                     " holds a different file");
  }
  fsync_path(partial, O_RDONLY);
  fs::rename(partial, dest, ec);
  if (ec) throw io_error("cannot move " + partial + " to " + dest + ": " + ec.message());
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
  spdlog::info("verified {} ({})", name, megabytes(static_cast<double>(file_size_or_zero(dest))));
  return FetchResult::kDownloaded;
}

}  // namespace zoo
