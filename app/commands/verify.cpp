// zoo verify FILE...: checks weights files without using them. A zoo checkpoint (.pt) is read
// whole and every checksum it carries (each tensor, the optimizer state, the metadata) is
// checked; a .safetensors file is checked for structure (header, dtypes, offsets, sizes) and
// against the per-tensor checksums zoo writes into its "__metadata__"; a .pth file for
// structure (zip, weights-only pickle). A damaged or malformed file is one error line naming
// what is wrong (exit 65); with several files each is checked and reported.
#include "app/commands/commands.h"
#include "app/engine/checkpoint.h"
#include "common/checksum.h"
#include "common/error.h"
#include "weights/weights_io.h"

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct VerifyOptions {
  std::vector<std::string> files;
};

std::string plural(size_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

void verify_file(const std::string& path) {
  const WeightsFormat format = weights_format_of(path);
  std::string report;
  if (format == WeightsFormat::kZooCheckpoint) {
    const Checkpoint ckpt = load_checkpoint(path);
    report = "zoo checkpoint, format " + ckpt.meta.value("format_version", nlohmann::json(0)).dump() + ", " +
             ckpt.meta.value("model", "?");
    if (ckpt.meta.contains("position") && ckpt.meta["position"].is_object()) {
      const auto& pos = ckpt.meta["position"];
      report += ", epoch " + pos.value("epoch", nlohmann::json(0)).dump() + " step " +
                pos.value("step", nlohmann::json(0)).dump();
    }
    report += ", " + plural(ckpt.model.size(), "tensor") + (ckpt.optimizer ? " + optimizer state" : "");
    report += ckpt.checksums > 0
                  ? ": " + plural(static_cast<size_t>(ckpt.checksums), "checksum") + " match (" + kChecksumAlgorithm + ")"
                  : ": readable; it carries no checksums (written by a zoo before checkpoint format 3)";
  } else if (format == WeightsFormat::kSafetensors) {
    std::map<std::string, std::string> metadata;
    const StateDict sd = read_safetensors(path, &metadata);  // checks the checksums zoo wrote
    report = "safetensors, " + plural(sd.size(), "tensor");
    report += metadata.count(kSafetensorsChecksumKey)
                  ? ": " + plural(sd.size(), "checksum") + " match (" + kChecksumAlgorithm + ")"
                  : ": structure valid; it carries no checksums (not written by zoo)";
  } else {
    const StateDict sd = read_pth(path);
    report = "PyTorch state dict, " + plural(sd.size(), "tensor") + ": structure valid (.pth files carry no checksums)";
  }
  std::printf("ok  %s: %s\n", path.c_str(), report.c_str());
}

}  // namespace

void register_verify(CLI::App& app) {
  auto opts = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check zoo checkpoints (every checksum), .safetensors and .pth files without using them");
  cmd->add_option("files", opts->files, "Files to check: .pt, .safetensors, .pth or .bin")->required();
  cmd->callback([opts] { for_each_name(opts->files, "verified", verify_file); });
}

}  // namespace zoo
