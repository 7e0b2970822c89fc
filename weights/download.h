// Downloading a weights file into a cache, verified: libcurl (http, https, file URLs) into
// DEST.partial beside the cache entry, resuming a partial file with an HTTP range request,
// retrying transient failures with exponential backoff, aborting a transfer that stalls, then
// SHA-256 verification (the hex prefix in DEST's name, and the full digest when known), fsync
// and an atomic rename. A file that fails verification is deleted and reported (exit 65): the
// cache never holds a file that did not verify. DEST.lock (flock) serialises processes that
// fetch the same file (two ranks, two shells): the second waits, then finds the file there.
#pragma once

#include <functional>
#include <string>

namespace zoo {

struct DownloadOptions {
  double stall_timeout_s = 30.0;  // connect timeout, and abort when no byte came for this long
  int retries = 3;                // more tries after the first, for transient failures
  double backoff_s = 1.0;         // wait before the first retry; doubles each time
  bool progress = false;          // a progress line on stderr
  bool offline = false;           // never touch the network: a missing file is an error
  // Polled during a transfer; a non-zero signal number aborts it (the partial file is kept for
  // the next try) with an interrupted Error of that signal.
  std::function<int()> interrupted;
};

enum class FetchResult { kCached, kDownloaded };

// Makes `dest` a verified copy of `url`. `sha256` is the full hex digest or empty; the prefix
// in dest's file name (NAME-<hex>.ext) is always checked, and a name without one is refused.
// A file already at `dest` is verified (kCached); one that fails is deleted and fetched again
// (offline: a data error). Errors: missing_error (HTTP 404/410, no such file:// file, offline
// and not cached), data_error (verification failed, file deleted), io_error (network failure
// after the retries, the partial file kept; cache not writable), usage_error (unsupported URL).
FetchResult fetch_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                           const DownloadOptions& options);

// Lower-case hex SHA-256 of a file's bytes; io_error when it cannot be read.
std::string sha256_file(const std::string& path);
// Empty when the file at `path` has the digest `dest_name`'s prefix promises (and `sha256`
// when not empty); otherwise what differs, for an error message.
std::string verification_problem(const std::string& path, const std::string& dest_name, const std::string& sha256);

}  // namespace zoo
