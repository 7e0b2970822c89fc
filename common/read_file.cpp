// See read_file.h.
#include "common/read_file.h"

#include "common/error.h"

#include <fstream>
#include <sstream>

namespace zoo {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("cannot read " + path + "; HINT: check its permissions");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw io_error("read error in " + path);
  return s.str();
}

}  // namespace zoo
