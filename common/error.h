// zoo::Error: the one exception type library code throws. Each carries a kind that main()
// maps to an exit code (main.cpp; README "Exit codes"). Messages are one line: what was wrong,
// where, and a hint. Header-only; every library uses it.
#pragma once

#include <stdexcept>
#include <string>

namespace zoo {

enum class ErrorKind {
  kUsage,         // bad flag or option value: exit 2
  kBadData,       // malformed input file or data: exit 65
  kMissingInput,  // file or dataset not found: exit 66
  kInternal,      // a bug in zoo: exit 70
  kIO,            // read/write failure (disk full, permissions): exit 74
  kInterrupted,   // stopped by SIGINT (exit 130) or SIGTERM (exit 143) after saving
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, int signal = 0)
      : std::runtime_error(message), kind_(kind), signal_(signal) {}
  ErrorKind kind() const { return kind_; }
  int signal() const { return signal_; }  // for kInterrupted

 private:
  ErrorKind kind_;
  int signal_;
};

inline int exit_code(const Error& e) {
  switch (e.kind()) {
    case ErrorKind::kInterrupted: return 128 + e.signal();
    case ErrorKind::kUsage: return 2;
    case ErrorKind::kBadData: return 65;
    case ErrorKind::kMissingInput: return 66;
    case ErrorKind::kInternal: return 70;
    case ErrorKind::kIO: return 74;
  }
  return 70;
}

// Shorthands that read well at the throw site.
inline Error usage_error(const std::string& m) { return Error(ErrorKind::kUsage, m); }
inline Error data_error(const std::string& m) { return Error(ErrorKind::kBadData, m); }
inline Error missing_error(const std::string& m) { return Error(ErrorKind::kMissingInput, m); }
inline Error io_error(const std::string& m) { return Error(ErrorKind::kIO, m); }
inline Error internal_error(const std::string& m) { return Error(ErrorKind::kInternal, m); }

}  // namespace zoo
