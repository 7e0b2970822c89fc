// Weights interchange: PyTorch .pth state dicts and .safetensors files to and from StateDict.
//
// .pth: torch.save's zip format (archive/data.pkl + archive/data/<key>), read with LibTorch's
// PyTorchStreamReader and our own weights-only unpickler (weights/pickle.h), which builds
// tensors, storages and (ordered) dicts and refuses every other pickle global: nothing in the
// file is ever executed. The legacy non-zip format (torch.save(..., _use_new_zipfile_
// serialization=False), torch < 1.6) is read too. A checkpoint dict that wraps the weights
// under "state_dict", "model_state_dict" or "model" is unwrapped. Written .pth files are what
// torch.save(OrderedDict) writes and load with torch.load(path, weights_only=True).
//
// .safetensors: https://github.com/huggingface/safetensors format (u64 header length, JSON
// header, byte buffer), all the dtypes LibTorch has (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL).
// zoo writes a checksum of every tensor into "__metadata__" (kSafetensorsChecksumKey: JSON
// text {"algorithm", "tensors": {name: checksum}}, common/checksum.h); reading a file that has
// them checks every tensor against it.
//
// Every write goes through AtomicFile: the previous file survives any failure.
// Errors are zoo::Error: kMissingInput (no such file), kBadData (malformed, truncated, refused),
// kIO (write failure), kUsage (unknown extension). Little-endian hosts only.
#pragma once

#include "weights/state_dict.h"

#include <map>
#include <string>

namespace zoo {

constexpr const char* kSafetensorsChecksumKey = "zoo.checksums";

StateDict read_pth(const std::string& path);

// Refuses (data_error) a zip whose central directory declares an entry far larger than a
// `file_size`-byte file could hold: LibTorch allocates each record at its declared size before
// reading it, so a small "zip bomb" would otherwise claim gigabytes. For any LibTorch zip
// (.pth, zoo checkpoints), before it is opened.
void check_zip_sizes(const std::string& path, uint64_t file_size);
void write_pth(const std::string& path, const StateDict& sd);

// Tensors come back in data-buffer order, which is the written StateDict order for files zoo
// wrote. `metadata`, when given, receives the "__metadata__" block.
StateDict read_safetensors(const std::string& path,
                           std::map<std::string, std::string>* metadata = nullptr);
void write_safetensors(const std::string& path, const StateDict& sd,
                       const std::map<std::string, std::string>& metadata = {});

enum class WeightsFormat { kZooCheckpoint, kPth, kSafetensors };

// By extension (case-insensitive): .pt -> zoo checkpoint, .pth/.bin -> PyTorch state dict,
// .safetensors -> safetensors. Throws usage_error listing the known extensions otherwise.
WeightsFormat weights_format_of(const std::string& path);
const char* weights_format_name(WeightsFormat format);  // "zoo checkpoint", "pth", "safetensors"

// The core of `zoo convert` for the interchange formats: a .pth/.bin or .safetensors file by
// its extension. `metadata` receives (read) or supplies (write) the safetensors "__metadata__"
// block; .pth has none. A zoo checkpoint (.pt) is the engine's format, not read here: it is a
// usage error naming the path.
StateDict read_state_dict(const std::string& path,
                          std::map<std::string, std::string>* metadata = nullptr);
void write_state_dict(const std::string& path, const StateDict& sd,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace zoo
