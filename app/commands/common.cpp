// Helpers shared by the subcommand files.
#include "app/commands/commands.h"

#include "models/registry.h"

#include <filesystem>

namespace zoo {

std::string take_model_name(std::vector<std::string>& inputs) {
  if (inputs.empty()) return "";
  std::error_code ec;
  for (const auto& info : model_table()) {
    if (info.name == inputs.front() && !std::filesystem::exists(inputs.front(), ec)) {
      std::string name = inputs.front();
      inputs.erase(inputs.begin());
      return name;
    }
  }
  return "";
}

}  // namespace zoo
