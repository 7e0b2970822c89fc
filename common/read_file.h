// Reading a whole file into memory, with zoo's errors: io_error naming the file when it cannot
// be opened or read.
#pragma once

#include <string>

namespace zoo {

std::string read_file_bytes(const std::string& path);

}  // namespace zoo
