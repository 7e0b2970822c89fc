// Verified downloads into a local folder: libcurl (http, https, file URLs) into DEST.partial
// beside the destination, resuming a partial file with an HTTP range request, retrying
// transient failures with exponential backoff, aborting a transfer that stalls, then checking
// the file's digests (SHA-256 or MD5, whole or a prefix), fsync and an atomic rename. A file
// that fails verification is deleted and reported (exit 65): the destination never holds a
// file that did not verify. DEST.lock (flock) serialises processes that fetch the same file
// (two ranks, two shells): the second waits, then finds the file there. Used by the weights
// hub (weights/hub.h) and by `zoo data download` (data/dataset_download.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

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
  // For messages: what the destination folder is ("the weights cache"), how to make it writable
  // ("set $TORCH_HOME to a writable folder"), and where the URL may come from besides its
  // origin ("$ZOO_WEIGHTS_MIRROR"; empty: none).
  std::string store = "the download folder";
  std::string store_hint = "check the folder's permissions";
  std::string mirror_variable;
};

// The options the environment sets: ZOO_OFFLINE=1 (or set_offline), ZOO_DOWNLOAD_TIMEOUT
// (stall seconds, 30), ZOO_DOWNLOAD_RETRIES (3); a progress line when stderr is a terminal;
// the interrupt check main installed. usage_error for a malformed number.
DownloadOptions download_settings();
// `zoo --offline`: the same as ZOO_OFFLINE=1 for the rest of the process.
void set_offline(bool offline);
// How a transfer learns that the user asked to stop (a signal number, 0: go on); main sets it.
void set_download_interrupt_check(int (*check)());

enum class DigestKind { kSha256, kMd5 };

// A digest a file must have: the whole hex digest, or (prefix) its first hex digits.
struct ExpectedDigest {
  DigestKind kind = DigestKind::kSha256;
  std::string hex;
  bool prefix = false;
  std::string origin;  // who promises it, for messages: "the name resnet18-f37072fd.pth"
};

enum class FetchResult { kCached, kDownloaded };

// Makes `dest` a verified copy of `url` (at least one digest expected). A file already at `dest`
// is verified (kCached); one that fails is deleted and fetched again (offline: a data error).
// Errors: missing_error (HTTP 404/410, no such file:// file, offline and not there), data_error
// (verification failed, file deleted), io_error (network failure after the retries, the partial
// file kept; destination not writable), usage_error (unsupported URL, no digest).
FetchResult fetch_file(const std::string& url, const std::string& dest, const std::vector<ExpectedDigest>& expected,
                       const DownloadOptions& options);

// Lower-case hex digest of a file's bytes; io_error when it cannot be read.
std::string file_digest(const std::string& path, DigestKind kind);
inline std::string sha256_file(const std::string& path) { return file_digest(path, DigestKind::kSha256); }
// Empty when the file at `path` has every expected digest; otherwise what differs.
std::string digest_problem(const std::string& path, const std::vector<ExpectedDigest>& expected);

}  // namespace zoo
