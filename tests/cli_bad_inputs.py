#!/usr/bin/python3
"""Table-driven bad-input test of every zoo command.

    python3 tests/cli_bad_inputs.py build/zoo [-j WORKERS] [-k REGEX] [-v]

Runs each zoo command (the ones the binary's --help lists; rows of a command it does not
have are skipped) on bad inputs: missing files, directories where a file is expected, files of
the wrong format, empty files, other models' weights, non-UTF-8 paths, out-of-range values,
unknown flags, models and names. For each case it checks

  * the exit code is the documented one (README "Exit codes": 2 usage, 65 bad data, 66 missing
    input, 74 I/O): a missing file or a directory where a file is expected 66 (as
    weights/weights_io.cpp check_input_file does); an empty, truncated or wrongly formatted file
    and another model's weights 65; a bad flag or value, an unknown model or name 2;
  * stderr is exactly one non-empty line (README: "Errors are one line on stderr"), matching the
    row's regex when it has one (which mostly asks that the line names the bad argument);
  * stdout is empty;
  * no crash (signal, 134, 139, 70 "internal error") and an answer within the timeout;
  * nothing was written: each case runs with its current directory a fresh temporary folder
    holding a copy of the fixtures, with $HOME, $ZOO_DATA, $TORCH_HOME, $TMPDIR and the default
    runs/ inside it, and the recursive listing (names, types, sizes, mtimes) of that folder must
    be the same after the run as before (so output paths given to commands, which all point
    into it, must not exist afterwards).

A few "ok:" rows give valid input under a non-UTF-8 name, which must work (exit 0, writing
only where the row allows). Failures are labelled with the zoo defect they resemble among those
this test found (KNOWN_DEFECTS below, all fixed); rows of a defect still open are listed in
OPEN_DEFECTS and reported as XFAIL while they fail.

Every run has ZOO_OFFLINE=1, OMP_NUM_THREADS=1, NO_COLOR=1 and an address-space limit of 4 GiB
(so an absurd size that zoo fails to refuse ends as an allocation failure instead of taking the
machine's memory; with --sanitized, for a zoo built with AddressSanitizer, its largest-allocation
limit of 4 GiB instead, and its options passed through). The fixtures (tiny lenet5, charlm and captioner checkpoints, made with
`zoo train --max-steps`, and hand-made bad files) are built once at the start (a few seconds).

Only the Python standard library is used. Exit status: 0 when every case passes, 1 otherwise.
"""

import argparse
import concurrent.futures
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

TIMEOUT_S = 60
ADDRESS_SPACE_LIMIT = 4 << 30

USAGE, BAD_DATA, MISSING, IO = 2, 65, 66, 74

# ---------------------------------------------------------------------------------------------
# Fixtures


def png_bytes(width=32, height=32, rgb=(200, 30, 30)):
    """A valid 8-bit RGB PNG, written by hand (zlib + CRCs)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def safetensors_bytes(tensors):
    """tensors: {name: (dtype, shape, data bytes)} -> a .safetensors file."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def zeros_f32(shape):
    n = 1
    for d in shape:
        n *= d
    return ("F32", shape, b"\x00" * (4 * n))


TEXT = b"this is a plain text file, not what zoo expects here\n"

# Non-UTF-8 names (byte 0xff), as bytes paths relative to the case's folder.
NONUTF8_MISSING = {ext: b"fx/missing-\xff" + ext.encode() for ext in (".pt", ".pth", ".safetensors", ".png", ".json", ".txt", ".tar.gz")}
NONUTF8_BAD = {ext: b"fx/bad-\xff" + ext.encode() for ext in (".pt", ".pth", ".safetensors", ".png", ".json", ".txt", ".tar.gz")}


def build_fixtures(zoo, root, env):
    """Writes the fixture folder `root` (later copied into each case's folder as fx/)."""
    os.makedirs(root)
    def w(name, data):
        with open(os.path.join(os.fsencode(root), name if isinstance(name, bytes) else os.fsencode(name)), "wb") as f:
            f.write(data)
    # Trained checkpoints of three kinds of model, a few optimizer steps each.
    runs = os.path.join(root, "runs")
    common = ["--epochs", "1", "--workers", "0", "--threads", "1", "--quiet", "--runs-dir", runs]
    w("corpus.txt", b"the quick brown fox jumps over the lazy dog. " * 40)
    trainings = [
        ["train", "lenet5", "--data", "fashion-mnist", "--max-steps", "2", "--limit-val-batches", "1", "--name", "l5"],
        ["train", "charlm", "--data", os.path.join(root, "corpus.txt"), "--max-steps", "2", "--hidden", "16",
         "--embed", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "16", "--name", "lm"],
        ["train", "captioner", "--backbone", "lenet5", "--input-size", "32", "--max-steps", "1",
         "--limit-val-batches", "1", "--hidden", "16", "--embed", "8", "--batch-size", "4", "--name", "cap"],
    ]
    for argv in trainings:
        r = subprocess.run([zoo] + argv + common, env=env, cwd=root, capture_output=True, timeout=300)
        if r.returncode != 0:
            sys.exit("fixture run failed: zoo %s: %s" % (" ".join(argv), r.stderr.decode(errors="replace")[-2000:]))
    for name, run in (("lenet5.pt", "l5"), ("charlm.pt", "lm"), ("captioner.pt", "cap")):
        shutil.copyfile(os.path.join(runs, run, "checkpoints", "best.pt"), os.path.join(root, name))
    for run in ("lm", "cap"):  # only runs/l5 is used as a run (--resume); the copies stay small
        shutil.rmtree(os.path.join(runs, run))
    for out in ("lenet5.safetensors", "lenet5.pth"):
        r = subprocess.run([zoo, "convert", "lenet5.pt", out], env=env, cwd=root, capture_output=True, timeout=120)
        if r.returncode != 0:
            sys.exit("fixture conversion failed: %s" % r.stderr.decode(errors="replace"))
    # Bad files, by the extension they pretend to have.
    for ext in (".pt", ".pth", ".safetensors", ".png", ".json", ".txt", ".tar.gz", ".tar", ".jsonl"):
        w("empty" + ext, b"")
        w("text" + ext, TEXT)
        os.mkdir(os.path.join(root, "dir" + ext))
    for ext in (".pt", ".pth", ".safetensors"):
        w("png" + ext, png_bytes())
    w("image.png", png_bytes())
    w("weights.txt", TEXT)
    # .safetensors garbage: a JSON document as the whole file; a valid length then broken JSON;
    # a header length far beyond the file.
    w("json.safetensors", b'{"input": {"dtype": "F32", "shape": [1, 1, 28, 28]}}\n')
    header = b'{"input": {"dtype": "F32", "shape": [1, 1, 2'
    w("garbage-header.safetensors", struct.pack("<Q", len(header)) + header + b"\x00" * 16)
    w("huge-header.safetensors", struct.pack("<Q", 1 << 62) + b"{}")
    # forward inputs: a valid one for lenet5, a 3-D one, one with 3 channels, a truncated one.
    w("input.safetensors", safetensors_bytes({"input": zeros_f32([1, 1, 28, 28])}))
    w("input-3d.safetensors", safetensors_bytes({"input": zeros_f32([1, 28, 28])}))
    w("input-rgb.safetensors", safetensors_bytes({"input": zeros_f32([1, 3, 28, 28])}))
    good = safetensors_bytes({"input": zeros_f32([1, 1, 28, 28])})
    w("input-truncated.safetensors", good[: len(good) - 1000])
    # A truncated zoo checkpoint (the first half of a real one), and real files with one byte
    # flipped in the tensor data (the conv weights take most of lenet5's last 80%).
    data = open(os.path.join(root, "lenet5.pt"), "rb").read()
    w("truncated.pt", data[: len(data) // 2])
    flip = lambda b, at: b[:at] + bytes([b[at] ^ 0x40]) + b[at + 1:]
    w("bitflip.pt", flip(data, len(data) * 3 // 5))
    data = open(os.path.join(root, "lenet5.safetensors"), "rb").read()
    w("bitflip.safetensors", flip(data, len(data) * 3 // 5))
    # Config files.
    w("array.json", b"[1, 2, 3]\n")
    w("unknown-key.json", b'{"bogus_option": 1}\n')
    w("wrong-type.json", b'{"lr": "fast"}\n')
    # Text that is not UTF-8.
    w("bad-utf8.txt", b"caf\xe9 au lait, \xff\xfe not utf-8\n" * 20)
    os.mkdir(os.path.join(root, "emptydir"))
    # Non-UTF-8 names of existing bad files, and of good ones.
    for ext, name in NONUTF8_BAD.items():
        w(name[len(b"fx/"):], TEXT)
    shutil.copyfile(os.path.join(root, "lenet5.pt"), os.path.join(os.fsencode(root), b"l5-\xff.pt"))
    w(b"good-\xff.png", png_bytes())
    w(b"corpus-\xff.txt", b"the quick brown fox jumps over the lazy dog. " * 40)


# ---------------------------------------------------------------------------------------------
# The table


def P(*parts):
    """A path into the case's copy of the fixtures; bytes stay bytes."""
    return parts[0] if isinstance(parts[0], bytes) else "fx/" + "".join(parts)


def name_re(path):
    """A regex that the error line names `path` (its last component, any quoting)."""
    base = os.path.basename(path if isinstance(path, str) else path.decode("latin-1"))
    if isinstance(path, bytes):
        # A non-UTF-8 byte may be printed raw, escaped or replaced: ask for the ASCII around it.
        head, _, tail = base.partition("\xff")
        return re.escape(head) + r".{1,8}" + re.escape(tail)
    return re.escape(base)


# What each kind of bad file is, per role: (kind, path, expected exit code). Every file argument
# gets the first six (missing, directory, empty, two non-UTF-8 names, text); the other formats
# go through the same readers, so the rows that ask for them (`only`, `full`) are a few.
def bad_files(role):
    ext = {"pt": ".pt", "pth": ".pth", "safetensors": ".safetensors", "png": ".png", "json": ".json",
           "txt": ".txt", "tar": ".tar.gz", "input": ".safetensors"}[role]
    rows = [
        ("missing", P("missing", ext), MISSING),
        ("directory", P("dir", ext), MISSING),
        ("empty", P("empty", ext), BAD_DATA),
        ("nonutf8-missing", NONUTF8_MISSING[ext], MISSING),
        ("nonutf8-bad", NONUTF8_BAD[ext], BAD_DATA),
    ]
    if role == "txt":  # text corpora: a folder without text files, text that is not UTF-8
        rows[1] = ("directory", P("emptydir"), MISSING)
        rows.append(("not-utf8", P("bad-utf8.txt"), BAD_DATA))
        return rows
    rows.append(("text", P("text", ext), BAD_DATA))
    if role in ("pt", "pth", "safetensors"):
        rows.append(("png", P("png", ext), BAD_DATA))
    if role in ("safetensors", "input"):
        rows.append(("json-garbage", P("json.safetensors"), BAD_DATA))
        rows.append(("broken-header", P("garbage-header.safetensors"), BAD_DATA))
        rows.append(("huge-header", P("huge-header.safetensors"), BAD_DATA))
    if role == "pt":
        rows.append(("truncated", P("truncated.pt"), BAD_DATA))
        rows.append(("bitflip", P("bitflip.pt"), BAD_DATA))
    if role == "safetensors":
        rows.append(("bitflip", P("bitflip.safetensors"), BAD_DATA))
    if role == "json":
        rows.append(("json-array", P("array.json"), BAD_DATA))
    return rows


BASIC = ["missing", "directory", "empty", "nonutf8-missing", "nonutf8-bad", "text", "not-utf8"]


def kinds(role, only=None, full=False):
    rows = bad_files(role)
    if full:
        return rows
    return [r for r in rows if r[0] in (only or BASIC)]


class Table:
    def __init__(self):
        self.rows = []

    def add(self, name, cmd, argv, code, regex=None, setup=(), ok=False, allow=None):
        """cmd: the command path ("train", "data inspect"); argv: arguments after it; setup:
        (path, bytes or None for a folder) made in the case's folder before it runs. An `ok`
        row is valid input that must succeed (exit `code`, stdout and log lines free, writing
        only paths that match the regex `allow`)."""
        self.rows.append({"name": name, "cmd": cmd, "argv": cmd.split() + list(argv), "code": code,
                          "regex": regex, "setup": list(setup), "ok": ok, "allow": allow})

    def files(self, cmd, label, role, make, only=None, full=False, extra_regex=None):
        """The cross product of one file argument with the bad files of its role."""
        for kind, path, code in kinds(role, only, full):
            self.add("%s %s=%s" % (cmd, label, kind), cmd, make(path), code, extra_regex or name_re(path))


def with_flag(args, flag, value):
    """args with `flag value` in place of any `flag X` it had."""
    out = list(args)
    while flag in out:
        i = out.index(flag)
        del out[i:i + 2]
    return out + [flag, value]


SAFE_TRAIN = ["--epochs", "1", "--max-steps", "1", "--limit-batches", "1", "--limit-val-batches", "1",
              "--workers", "0", "--threads", "1", "--quiet"]


def build_table():
    t = Table()
    L5, LM, CAP = P("lenet5.pt"), P("charlm.pt"), P("captioner.pt")
    L5_ST, L5_PTH = P("lenet5.safetensors"), P("lenet5.pth")
    IMG, OUT = P("image.png"), "out/result"

    # --- zoo itself ------------------------------------------------------------------------
    t.add("zoo no command", "", [], USAGE)
    t.add("zoo unknown command", "", ["frobnicate"], USAGE, "frobnicate")
    t.add("zoo unknown flag", "", ["--bogus"], USAGE, "--bogus")

    # --- unknown flags, one per command, after arguments that are valid otherwise -------------
    fw = lambda model, weights, inp=P("input.safetensors"), *extra: (
        [model, "--weights", weights, "--input", inp, "--output", OUT + ".safetensors"] + list(extra))
    tr = lambda *a: list(a) + SAFE_TRAIN
    ft = lambda *a: list(a) + ["--data", "fashion-mnist"] + SAFE_TRAIN
    fe = lambda *a: list(a) + ["--out", OUT + ".safetensors", "--threads", "1", "--workers", "0"]
    ev = lambda *a: list(a) + ["--threads", "1", "--workers", "0", "--confusion", OUT + ".png"]
    pr = lambda *a: list(a) + ["--threads", "1"]
    ca = lambda *a: list(a) + ["--threads", "1"]
    sa = lambda *a: list(a) + ["--threads", "1", "--seed", "1", "--length", "5"]
    be = lambda *a: list(a) + ["--no-peak", "--threads", "1", "--iters", "1", "--warmup", "0"]
    valid = {"list": [], "info": ["lenet5"], "forward": fw("lenet5", L5), "train": tr("lenet5"),
             "finetune": ft("--weights", L5), "eval": ev("--weights", L5), "predict": pr("--weights", L5, IMG),
             "caption": ca("--weights", CAP, IMG), "sample": sa("--weights", LM),
             "features": fe("--weights", L5, "--data", "fashion-mnist"), "convert": [L5, OUT + ".safetensors"],
             "bench": be("lenet5"), "data inspect": ["--data", "shapes"],
             "data export": ["shapes-captions", "--out", "out/export"], "data download": ["mnist"],
             "data prepare": ["imagenet", "--from", P("emptydir")], "weights list": [],
             "weights fetch": ["torchvision:resnet18"], "weights verify": [], "verify": [L5]}
    for cmd, args in valid.items():
        t.add("%s unknown flag" % cmd, cmd, args + ["--no-such-flag"], USAGE, "--no-such-flag")
    t.add("data unknown subcommand", "data", ["frobnicate"], USAGE, "frobnicate")
    t.add("weights unknown subcommand", "weights", ["frobnicate"], USAGE, "frobnicate")

    # --- list / info -------------------------------------------------------------------------
    t.add("list extra argument", "list", ["lenet5"], USAGE, "lenet5")
    t.add("info unknown model", "info", ["lenet6"], USAGE, "lenet6")
    for value in ["0x0x0", "abc", "3x28", "3x999999x999999", "99999"]:
        t.add("info --input %s" % value, "info", ["resnet18", "--input", value], USAGE, "--input|%s" % re.escape(value))
    t.add("info lenet5 --input 1x8x8", "info", ["lenet5", "--input", "1x8x8"], USAGE, "--input|8")
    t.add("info --num-classes 0", "info", ["lenet5", "--num-classes", "0"], USAGE, "--num-classes")
    # A head of 2e9 classes is a size the machine cannot hold: out of memory, exit 74, one line.
    t.add("info --num-classes absurd", "info", ["resnet18", "--num-classes", "2000000000"], 74, "out of memory")
    t.add("info --weights unknown name", "info", ["resnet18", "--weights", "torchvision:resnet19"], USAGE, "resnet19")
    t.add("info --weights other model", "info", ["resnet18", "--weights", "torchvision:resnet50"], USAGE, "resnet50")
    t.add("info --weights a file", "info", ["lenet5", "--weights", L5], USAGE, "lenet5.pt")

    # --- forward -----------------------------------------------------------------------------
    t.files("forward", "--weights(.pt)", "pt", lambda p: fw("lenet5", p))
    t.files("forward", "--weights(.pt)", "pt", lambda p: fw("lenet5", p), only=["png", "truncated"])
    t.files("forward", "--weights(.safetensors)", "safetensors", lambda p: fw("lenet5", p),
            only=["missing", "json-garbage", "bitflip"])
    t.files("forward", "--weights(.pth)", "pth", lambda p: fw("lenet5", p), only=["text"])
    t.files("forward", "--input", "input", lambda p: fw("lenet5", L5, p),
            only=BASIC + ["json-garbage"])
    t.add("forward --input 3-D tensor", "forward", fw("lenet5", L5, P("input-3d.safetensors")), BAD_DATA, "dimensions|N x C x H x W")
    t.add("forward --input 3 channels for lenet5", "forward", fw("lenet5", L5, P("input-rgb.safetensors")), BAD_DATA, "input-rgb")
    t.add("forward --input truncated", "forward", fw("lenet5", L5, P("input-truncated.safetensors")), BAD_DATA, "input-truncated")
    t.add("forward lenet5.pt as resnet18", "forward", fw("resnet18", L5), BAD_DATA, "lenet5")
    t.add("forward lenet5.safetensors as resnet18", "forward", fw("resnet18", L5_ST), BAD_DATA, "lenet5.safetensors")
    t.add("forward lenet5.pth as alexnet", "forward", fw("alexnet", L5_PTH), BAD_DATA, "lenet5.pth")
    t.add("forward charlm.pt as lenet5", "forward", fw("lenet5", LM), BAD_DATA, "charlm")
    t.add("forward captioner.pt as lenet5", "forward", fw("lenet5", CAP), BAD_DATA, "captioner")
    t.add("forward unknown model", "forward", fw("lenet6", L5), USAGE, "lenet6")
    t.add("forward --weights unknown extension", "forward", fw("lenet5", P("weights.txt")), USAGE, "weights.txt")
    t.add("forward --weights unknown name", "forward", fw("resnet18", "torchvision:resnet19"), USAGE, "resnet19")
    t.add("forward --weights offline not cached", "forward", fw("resnet18", "torchvision:resnet18"), MISSING, "resnet18")
    t.add("forward --num-classes 0", "forward", fw("lenet5", L5, P("input.safetensors"), "--num-classes", "0"), USAGE, "--num-classes")
    t.add("forward --output named .pth", "forward", fw("lenet5", L5)[:-1] + [OUT + ".pth"], USAGE, r"result\.pth")
    t.add("forward --num-classes mismatch", "forward", fw("lenet5", L5, P("input.safetensors"), "--num-classes", "7"), USAGE, "--num-classes")
    t.add("forward --output is a directory", "forward",
          ["lenet5", "--weights", L5, "--input", P("input.safetensors"), "--output", P("dir.safetensors")], IO, "dir.safetensors")

    # --- convert -----------------------------------------------------------------------------
    t.files("convert", "IN(.pt)", "pt", lambda p: [p, OUT + ".safetensors"], only=BASIC + ["bitflip"])
    t.files("convert", "IN(.safetensors)", "safetensors", lambda p: [p, OUT + ".pth"],
            only=["missing", "empty", "broken-header", "bitflip"])
    t.files("convert", "IN(.pth)", "pth", lambda p: [p, OUT + ".safetensors"], only=["empty", "text"])
    t.add("convert lenet5.safetensors --model resnet18", "convert", [L5_ST, OUT + ".pt", "--model", "resnet18"], BAD_DATA, "lenet5.safetensors")
    t.add("convert --model charlm (not a classifier)", "convert", [L5_PTH, OUT + ".pt", "--model", "charlm"], USAGE, "charlm")
    t.add("convert --model unknown", "convert", [L5_ST, OUT + ".pt", "--model", "lenet6"], USAGE, "lenet6")
    t.add("convert state dict to .pt without --model", "convert", [L5_ST, OUT + ".pt"], USAGE, "--model")
    t.add("convert OUT unknown extension", "convert", [L5, OUT + ".txt"], USAGE, r"result\.txt")
    t.add("convert IN unknown extension", "convert", [P("weights.txt"), OUT + ".pth"], USAGE, "weights.txt")
    t.add("convert OUT is a directory", "convert", [L5, P("dir.safetensors")], IO, "dir.safetensors")
    t.add("convert OUT in a missing folder", "convert", [L5, "no/such/folder/out.safetensors"], IO, "out.safetensors|no/such")
    t.add("convert missing IN argument", "convert", [L5], USAGE, "output")

    # --- train -------------------------------------------------------------------------------
    t.add("train unknown model", "train", tr("lenet6"), USAGE, "lenet6")
    t.files("train", "--config", "json", lambda p: tr("lenet5", "--config", p), only=BASIC + ["json-array"])
    t.add("train --config unknown key", "train", tr("lenet5", "--config", P("unknown-key.json")), BAD_DATA, "bogus_option")
    t.add("train --config wrong type", "train", tr("lenet5", "--config", P("wrong-type.json")), BAD_DATA, "wrong-type.json|lr")
    t.files("train", "--resume", "pt", lambda p: ["--resume", p, "--quiet"])
    t.files("train", "--resume", "pt", lambda p: ["--resume", p, "--quiet"], only=["truncated"])
    t.add("train --resume a checkpoint outside a run", "train", ["--resume", LM, "--quiet"], MISSING, "charlm.pt")
    last = "fx/runs/l5/checkpoints/last.pt"
    t.add("train --resume run whose last.pt is text", "train", ["--resume", P("runs/l5"), "--quiet"], BAD_DATA, "last.pt", [(last, TEXT)])
    t.add("train --resume run whose last.pt is empty", "train", ["--resume", P("runs/l5"), "--quiet"], BAD_DATA, "last.pt", [(last, b"")])
    t.add("train --resume with a changed --lr", "train", ["--resume", P("runs/l5"), "--lr", "0.5"], USAGE, "--lr|lr")
    t.add("train --resume --epochs -1", "train", ["--resume", P("runs/l5"), "--epochs", "-1"], USAGE, "--epochs")
    t.add("train --resume and --config", "train", ["--resume", P("runs/l5"), "--config", P("array.json")], USAGE, "--config|--resume")
    t.add("train --data missing path", "train", tr("lenet5", "--data", "fx/missing-data"), MISSING, "missing-data")
    t.add("train --data non-UTF-8 missing path", "train", tr("lenet5", "--data", b"fx/missing-data-\xff"), MISSING, "missing-data-")
    t.add("train --data empty folder", "train", tr("lenet5", "--data", P("emptydir")), BAD_DATA, "emptydir")
    t.add("train --data a text file", "train", tr("lenet5", "--data", P("text.txt")), BAD_DATA, "text.txt")
    t.add("train --data unknown name", "train", tr("lenet5", "--data", "nosuchset"), USAGE, "nosuchset")
    t.add("train --data known name not present", "train", tr("lenet5", "--data", "cifar10"), MISSING, "cifar10")
    t.files("train", "charlm --data", "txt", lambda p: tr("charlm", "--data", p))
    t.add("train captioner --backbone-weights missing", "train",
          tr("captioner", "--backbone", "lenet5", "--input-size", "32", "--backbone-weights", P("missing.pt")), MISSING, "missing.pt")
    t.add("train captioner --backbone-weights text.pt", "train",
          tr("captioner", "--backbone", "lenet5", "--input-size", "32", "--backbone-weights", P("text.pt")), BAD_DATA, "text.pt")
    t.add("train captioner --backbone-weights charlm.pt", "train",
          tr("captioner", "--backbone", "lenet5", "--input-size", "32", "--backbone-weights", LM), BAD_DATA, "charlm")
    t.add("train captioner --backbone unknown", "train", tr("captioner", "--backbone", "lenet6"), USAGE, "lenet6")
    for flag, value in [("--epochs", "0"), ("--epochs", "-1"), ("--batch-size", "0"), ("--lr", "-1"),
                        ("--lr", "nan"), ("--threads", "-3"), ("--workers", "-1"), ("--input-size", "-5"),
                        ("--input-size", "100000"), ("--val-split", "2"), ("--dropout", "1.5"),
                        ("--label-smoothing", "1"), ("--seq-len", "0"), ("--milestones", "30,x"),
                        ("--best-metric", "val_nonsense"), ("--device", "tpu"), ("--nproc", "1"),
                        ("--name", "a/b")]:
        model = "charlm" if flag == "--seq-len" else "lenet5"
        t.add("train %s %s" % (flag, value), "train", [model] + with_flag(SAFE_TRAIN, flag, value), USAGE,
              re.escape(flag) + "|" + re.escape(value))
    t.add("train --name an existing run", "train", tr("lenet5", "--runs-dir", P("runs"), "--name", "l5"), USAGE, "l5")
    t.add("train --runs-dir is a file", "train", tr("lenet5", "--runs-dir", P("text.txt")), IO, "text.txt")

    # --- finetune ----------------------------------------------------------------------------
    t.files("finetune", "--weights(.pt)", "pt", lambda p: ft("--weights", p))
    t.files("finetune", "--weights(.safetensors)", "safetensors", lambda p: ft("lenet5", "--weights", p),
            only=["json-garbage", "broken-header"])
    t.add("finetune without --weights", "finetune", ft("lenet5"), USAGE, "--weights")
    t.add("finetune lenet5.pt as resnet18", "finetune", ft("resnet18", "--weights", L5), BAD_DATA, "lenet5")
    t.add("finetune lenet5.safetensors as resnet18", "finetune", ft("resnet18", "--weights", L5_ST), BAD_DATA, "lenet5.safetensors")
    t.add("finetune charlm.pt", "finetune", ft("--weights", LM), BAD_DATA, "charlm")
    t.add("finetune --freeze selects nothing", "finetune", ft("--weights", L5, "--freeze", "nosuchlayer.*"), USAGE, "nosuchlayer")
    t.add("finetune --data missing", "finetune", ["--weights", L5, "--data", "fx/missing-data"] + SAFE_TRAIN, MISSING, "missing-data")
    t.add("finetune --epochs 0", "finetune", with_flag(ft("--weights", L5), "--epochs", "0"), USAGE, "--epochs")

    # --- features ----------------------------------------------------------------------------
    t.files("features", "--weights(.pt)", "pt", lambda p: fe("--weights", p, "--data", "fashion-mnist"))
    t.add("features lenet5.safetensors as resnet18", "features", fe("resnet18", "--weights", L5_ST, "--data", "fashion-mnist"), BAD_DATA, "lenet5.safetensors")
    t.add("features charlm.pt", "features", fe("--weights", LM, "--data", "fashion-mnist"), BAD_DATA, "charlm")
    t.add("features --data missing", "features", fe("--weights", L5, "--data", "fx/missing-data"), MISSING, "missing-data")
    t.add("features --data empty folder", "features", fe("--weights", L5, "--data", P("emptydir")), BAD_DATA, "emptydir")
    t.add("features --batch-size 0", "features", with_flag(fe("--weights", L5, "--data", "fashion-mnist"), "--batch-size", "0"), USAGE, "--batch-size")
    t.add("features --workers -1", "features", with_flag(fe("--weights", L5, "--data", "fashion-mnist"), "--workers", "-1"), USAGE, "--workers")
    t.add("features --out named .pt", "features", ["--weights", L5, "--data", "fashion-mnist", "--split", "val", "--out", OUT + ".pt"],
          USAGE, r"result\.pt")

    # --- eval --------------------------------------------------------------------------------
    t.files("eval", "--weights(.pt)", "pt", lambda p: ev("--weights", p))
    t.files("eval", "--weights(.safetensors)", "safetensors", lambda p: ev("lenet5", "--weights", p, "--data", "fashion-mnist"),
            only=["empty", "json-garbage"])
    t.add("eval resnet18 with lenet5.pt", "eval", ev("resnet18", "--weights", L5), BAD_DATA, "lenet5")
    t.add("eval resnet18 with lenet5.safetensors", "eval", ev("resnet18", "--weights", L5_ST, "--data", "fashion-mnist"), BAD_DATA, "lenet5.safetensors")
    t.add("eval --data of other classes", "eval", ev("--weights", L5, "--data", "shapes"), BAD_DATA, "classes")
    t.add("eval --data missing", "eval", ev("--weights", L5, "--data", "fx/missing-data"), MISSING, "missing-data")
    t.add("eval --data empty folder", "eval", ev("--weights", L5, "--data", P("emptydir")), BAD_DATA, "emptydir")
    t.add("eval --data unknown name", "eval", ev("--weights", L5, "--data", "nosuchset"), USAGE, "nosuchset")
    t.files("eval", "charlm --data", "txt", lambda p: ev("--weights", LM, "--data", p),
            only=["missing", "empty", "not-utf8", "nonutf8-missing"])
    t.add("eval captioner --data missing", "eval", ev("--weights", CAP, "--data", "fx/missing-data"), MISSING, "missing-data")
    t.add("eval --threads -3", "eval", with_flag(ev("--weights", L5), "--threads", "-3"), USAGE, "--threads")
    t.add("eval captioner --beam 0", "eval", ev("--weights", CAP, "--beam", "0"), USAGE, "--beam")
    t.add("eval extra positional", "eval", ev("lenet5", "extra", "--weights", L5), USAGE, "extra")
    t.add("eval --weights unknown extension", "eval", ev("--weights", P("weights.txt")), USAGE, "weights.txt")

    # --- predict -----------------------------------------------------------------------------
    t.files("predict", "--weights(.pt)", "pt", lambda p: pr("--weights", p, IMG))
    t.files("predict", "--weights(.pt)", "pt", lambda p: pr("--weights", p, IMG), only=["bitflip"])
    t.files("predict", "--weights(.pth)", "pth", lambda p: pr("lenet5", "--weights", p, IMG), only=["text"])
    t.files("predict", "IMAGE", "png", lambda p: pr("--weights", L5, p))
    t.add("predict a good and a missing image", "predict", pr("--weights", L5, IMG, P("missing.png")), MISSING, "missing.png")
    t.add("predict resnet18 with lenet5.pt", "predict", pr("resnet18", "--weights", L5, IMG), BAD_DATA, "lenet5")
    t.add("predict resnet18 with lenet5.safetensors", "predict", pr("resnet18", "--weights", L5_ST, IMG), BAD_DATA, "lenet5.safetensors")
    t.add("predict charlm.pt", "predict", pr("--weights", LM, IMG), BAD_DATA, "charlm")
    t.add("predict captioner.pt", "predict", pr("--weights", CAP, IMG), BAD_DATA, "captioner")
    t.add("predict no image", "predict", pr("--weights", L5), USAGE, "image")
    t.add("predict --top-k 0", "predict", pr("--weights", L5, "--top-k", "0", IMG), USAGE, "--top-k")
    t.add("predict --threads -3", "predict", ["--weights", L5, "--threads", "-3", IMG], USAGE, "--threads")
    t.add("predict safetensors without model", "predict", pr("--weights", L5_ST, IMG), USAGE, "lenet5.safetensors")
    t.add("predict --transform-input on lenet5.pt", "predict", pr("--weights", L5, "--transform-input", IMG), USAGE, "--transform-input")
    t.add("predict unknown weights name", "predict", pr("--weights", "torchvision:resnet19", IMG), USAGE, "resnet19")
    t.add("predict offline weights not cached", "predict", pr("--weights", "torchvision:resnet18", IMG), MISSING, "resnet18")

    # --- caption -----------------------------------------------------------------------------
    t.files("caption", "--weights", "pt", lambda p: ca("--weights", p, IMG))
    t.files("caption", "IMAGE", "png", lambda p: ca("--weights", CAP, p))
    t.add("caption lenet5.pt", "caption", ca("--weights", L5, IMG), BAD_DATA, "lenet5")
    t.add("caption charlm.pt", "caption", ca("--weights", LM, IMG), BAD_DATA, "charlm")
    t.add("caption no runs and no --weights", "caption", ca(IMG), MISSING, "runs")
    t.add("caption --runs-dir missing", "caption", ca("--runs-dir", "fx/missing-runs", IMG), MISSING, "missing-runs")
    t.add("caption no image", "caption", ca("--weights", CAP), USAGE, "image")
    for flag, value in [("--beam", "0"), ("--threads", "-3")]:
        t.add("caption %s %s" % (flag, value), "caption", ["--weights", CAP, flag, value, IMG], USAGE, re.escape(flag))
    t.add("caption --attention-map without attention", "caption", ca("--weights", CAP, "--attention-map", OUT + ".png", IMG), USAGE, "--attention")

    # --- sample ------------------------------------------------------------------------------
    t.files("sample", "--weights", "pt", lambda p: sa("--weights", p))
    t.add("sample lenet5.pt", "sample", sa("--weights", L5), BAD_DATA, "lenet5")
    t.add("sample captioner.pt", "sample", sa("--weights", CAP), BAD_DATA, "captioner")
    t.add("sample model resnet18", "sample", sa("resnet18", "--weights", LM), USAGE, "resnet18")
    for flag, value in [("--temperature", "-1"), ("--top-k", "-1"), ("--top-p", "0"), ("--top-p", "1.5"),
                        ("--length", "-5"), ("--threads", "-3"), ("--temperature", "nan")]:
        t.add("sample %s %s" % (flag, value), "sample", with_flag(sa("--weights", LM), flag, value), USAGE, re.escape(flag))
    t.add("sample --prime outside the vocabulary", "sample", sa("--weights", LM, "--prime", "ZQX\u00e9"), BAD_DATA, "prime|vocabulary")
    t.add("sample --prime not UTF-8", "sample", sa("--weights", LM, "--prime", b"ab\xffcd"), BAD_DATA, "prime|UTF-8")

    # --- bench -------------------------------------------------------------------------------
    t.add("bench unknown model", "bench", be("lenet6"), USAGE, "lenet6")
    t.add("bench charlm", "bench", be("charlm"), USAGE, "charlm")
    t.add("bench no model", "bench", be(), USAGE, "MODEL|model")
    for flag, value in [("--batch-size", "0"), ("--iters", "0"), ("--warmup", "-1"),
                        ("--mode", "bogus"), ("--precision", "fp64"), ("--input-size", "1"),
                        ("--input-size", "100000"), ("--num-classes", "-1"),
                        ("--device", "tpu")]:
        t.add("bench %s %s" % (flag, value), "bench", with_flag(be("lenet5"), flag, value), USAGE,
              re.escape(flag) + "|" + re.escape(value))
    t.add("bench --batch-size 1000000000", "bench", with_flag(be("lenet5"), "--batch-size", "1000000000"), 74,
          "out of memory")
    bd = lambda *a: ["lenet5", "--threads", "1", "--workers", "0"] + list(a)
    t.add("bench --data missing", "bench", bd("--data", "fx/missing-data"), MISSING, "missing-data")
    t.add("bench --data a text file", "bench", bd("--data", P("text.txt")), BAD_DATA, "text.txt")
    t.add("bench --data empty folder", "bench", bd("--data", P("emptydir")), BAD_DATA, "emptydir")
    t.add("bench --batches 3", "bench", bd("--data", "shapes", "--batches", "3"), USAGE, "--batches")
    t.add("bench --epochs 0", "bench", bd("--data", "shapes", "--epochs", "0"), USAGE, "--epochs")
    t.add("bench --augment without --data", "bench", ["lenet5", "--augment", "none"], USAGE, "--augment|--data")

    # --- data --------------------------------------------------------------------------------
    di = lambda *a: list(a) + ["--grid", OUT + ".png", "--workers", "1"]
    t.add("data inspect --data missing", "data inspect", di("--data", "fx/missing-data"), MISSING, "missing-data")
    t.add("data inspect --data non-UTF-8 missing", "data inspect", di("--data", b"fx/missing-data-\xff"), MISSING, "missing-data-")
    t.add("data inspect --data empty folder", "data inspect", di("--data", P("emptydir")), BAD_DATA, "emptydir")
    t.add("data inspect --data a text file", "data inspect", di("--data", P("text.txt")), BAD_DATA, "text.txt")
    t.add("data inspect --data unknown name", "data inspect", di("--data", "nosuchset"), USAGE, "nosuchset")
    t.add("data inspect --data absent cifar10", "data inspect", di("--data", "cifar10"), MISSING, "cifar10")
    t.add("data inspect --model unknown", "data inspect", di("--data", "shapes", "--model", "lenet6"), USAGE, "lenet6")
    t.add("data inspect --model charlm", "data inspect", di("--data", "shapes", "--model", "charlm"), USAGE, "charlm")
    for flag, value in [("--grid-count", "0"), ("--input-size", "-1"), ("--val-split", "2")]:
        t.add("data inspect %s %s" % (flag, value), "data inspect", with_flag(di("--data", "shapes"), flag, value), USAGE, re.escape(flag))
    t.add("data inspect no --data", "data inspect", [], USAGE, "--data")
    de = lambda *a: list(a)
    t.add("data export unknown set", "data export", de("shapes", "--out", "out/export"), USAGE, "shapes")
    for flag, value in [("--size", "8"), ("--val", "-1")]:
        t.add("data export %s %s" % (flag, value), "data export", de("shapes-captions", "--out", "out/export", flag, value), USAGE, re.escape(flag))
    t.add("data export --out is a file", "data export", de("shapes-captions", "--out", P("text.txt"), "--train", "1", "--val", "1", "--size", "16"), IO, "text.txt")
    t.add("data export no --out", "data export", de("shapes-captions"), USAGE, "--out")
    dd = lambda *a: list(a)
    t.add("data download unknown set", "data download", dd("cifar11"), USAGE, "cifar11")
    t.add("data download imagenet", "data download", dd("imagenet"), USAGE, "imagenet")
    t.add("data download offline", "data download", dd("mnist"), MISSING, "mnist|offline")
    t.add("data download --from missing", "data download", dd("cifar10", "--from", P("missing.tar.gz")), MISSING, "missing.tar.gz")
    t.add("data download --from non-UTF-8 missing", "data download", dd("cifar10", "--from", NONUTF8_MISSING[".tar.gz"]), MISSING, name_re(NONUTF8_MISSING[".tar.gz"]))
    t.add("data download --from empty file", "data download", dd("cifar10", "--from", P("empty.tar.gz")), BAD_DATA, "empty.tar.gz")
    t.add("data download --from a text file", "data download", dd("cifar10", "--from", P("text.tar.gz")), BAD_DATA, "text.tar.gz")
    t.add("data download --from non-UTF-8 bad file", "data download", dd("cifar10", "--from", NONUTF8_BAD[".tar.gz"]), BAD_DATA, name_re(NONUTF8_BAD[".tar.gz"]))
    t.add("data download --from empty folder", "data download", dd("mnist", "--from", P("emptydir")), MISSING, "emptydir")
    t.add("data download mnist --from a file", "data download", dd("mnist", "--from", P("text.txt")), MISSING, "text.txt")
    dp = lambda *a: ["imagenet"] + list(a) + ["--out", "out/imagenet"]
    t.add("data prepare unknown set", "data prepare", ["cifar10", "--from", P("emptydir")], USAGE, "cifar10")
    t.add("data prepare without archives", "data prepare", dp(), USAGE, "--from")
    t.add("data prepare --from missing", "data prepare", dp("--from", "fx/missing-archives"), MISSING, "missing-archives")
    t.add("data prepare --from a file", "data prepare", dp("--from", P("text.tar")), MISSING, "text.tar")
    t.add("data prepare --from empty folder", "data prepare", dp("--from", P("emptydir")), MISSING, "emptydir")
    for kind, path, code in kinds("tar"):
        t.add("data prepare --train-tar=%s" % kind, "data prepare", dp("--train-tar", path), code, name_re(path))
    t.add("data prepare --val-tar without --devkit", "data prepare", dp("--val-tar", P("text.tar")), MISSING, "devkit")
    t.add("data prepare --devkit missing", "data prepare", dp("--val-tar", P("text.tar"), "--devkit", P("missing.tar.gz")), MISSING, "missing.tar.gz")
    t.add("data prepare --devkit a text file", "data prepare", dp("--val-tar", P("text.tar"), "--devkit", P("text.tar.gz")), BAD_DATA, "text.tar")

    # --- weights -----------------------------------------------------------------------------
    R18 = "resnet18-f37072fd.pth"
    cache = "torch-home/hub/checkpoints/"
    t.add("weights list unknown model", "weights list", ["lenet6"], USAGE, "lenet6")
    t.add("weights fetch unknown name", "weights fetch", ["torchvision:resnet19"], USAGE, "resnet19")
    t.add("weights fetch a path", "weights fetch", [P("lenet5.pth")], USAGE, "lenet5.pth")
    t.add("weights fetch offline", "weights fetch", ["torchvision:resnet18"], MISSING, "resnet18")
    t.add("weights fetch file URL missing", "weights fetch", ["file:///nonexistent/dir/resnet18-f37072fd.pth"], MISSING, "resnet18-f37072fd")
    t.add("weights fetch URL without hash", "weights fetch", ["https://example.invalid/model.pth"], USAGE, "model.pth")
    t.add("weights fetch no name", "weights fetch", [], USAGE, "names")
    t.add("weights verify unknown name", "weights verify", ["torchvision:resnet19"], USAGE, "resnet19")
    t.add("weights verify not cached", "weights verify", ["torchvision:resnet18"], MISSING, R18)
    for kind, setup in [("text", [(cache + R18, TEXT)]), ("empty", [(cache + R18, b"")]),
                        ("directory", [(cache + R18, None)])]:
        code = MISSING if kind == "directory" else BAD_DATA
        t.add("weights verify cached file %s (by name)" % kind, "weights verify", ["torchvision:resnet18"], code, R18, setup)
    t.add("weights verify cached text file (all)", "weights verify", [], BAD_DATA, R18, [(cache + R18, TEXT)])

    # --- verify (a newer command: skipped where the binary lacks it) ------------------------
    t.files("verify", "FILE(.pt)", "pt", lambda p: [p], full=True)
    t.files("verify", "FILE(.safetensors)", "safetensors", lambda p: [p],
            only=["missing", "empty", "nonutf8-bad", "json-garbage", "huge-header", "bitflip"])
    t.files("verify", "FILE(.pth)", "pth", lambda p: [p], only=["empty", "text", "png"])
    t.add("verify no file", "verify", [], USAGE, "files|FILE")
    t.add("verify unknown extension", "verify", [P("weights.txt")], USAGE, "weights.txt")

    # --- valid input under a non-UTF-8 name: must work (Linux paths are bytes) ----------------
    L5X, IMGX, TXTX = b"fx/l5-\xff.pt", b"fx/good-\xff.png", b"fx/corpus-\xff.txt"
    t.add("ok: predict --json, image with a non-UTF-8 name", "predict", pr("--weights", L5, IMGX, "--json"), 0, ok=True)
    t.add("ok: eval --json, weights with a non-UTF-8 name", "eval",
          ["--weights", L5X, "--json", "--no-confusion", "--threads", "1", "--workers", "0"], 0, ok=True)
    t.add("ok: convert .pt with a non-UTF-8 name to .pt", "convert", [L5X, "out/copy.pt"], 0, ok=True, allow=r"^out/copy\.pt$")
    t.add("ok: features, weights with a non-UTF-8 name", "features",
          ["--weights", L5X, "--split", "val", "--out", "out/f.safetensors", "--threads", "1", "--workers", "0"], 0,
          ok=True, allow=r"^out/f\.safetensors$")
    t.add("ok: train charlm on a text with a non-UTF-8 name", "train",
          ["charlm", "--data", TXTX, "--max-steps", "1", "--hidden", "8", "--embed", "4", "--layers", "1",
           "--batch-size", "2", "--seq-len", "8"] + SAFE_TRAIN[:2] + SAFE_TRAIN[-5:], 0, ok=True, allow=r"^runs(/|$)")

    # $ZOO_WEIGHTS_CATALOG and the other environment inputs are left to the unit tests.
    return t.rows


# ---------------------------------------------------------------------------------------------
# The zoo defects this test found, all fixed since; a failing row is labelled with the one it
# resembles, to point at the code that regressed. (case-name regex, defect) pairs.

KNOWN_DEFECTS = [
    (r"^zoo (unknown command|unknown flag)|unknown subcommand", "D2 'A subcommand is required' hides the unknown word"),
    (r"charlm\.pt|captioner\.pt", "D3 wrong kind of checkpoint: exit 2 here, 65 in sample/caption (model_io.cpp)"),
    (r"forward unknown model", "D4 forward does not check MODEL before loading a .pt (forward.cpp)"),
    (r"3 channels", "D5 forward input of the wrong shape is a LibTorch internal error (forward.cpp)"),
    (r"absurd|1000000000", "D6 absurd sizes end as allocation failures, exit 70"),
    (r"offline|file URL missing", "D7 offline fetch leaves cache dirs and a .lock (common/download.cpp fetch_file)"),
    (r"named \.pth?$", "D8 forward/features write safetensors under any extension"),
    (r"without --model", "D9 convert's hint names `zoo predict`, not --model (model_io.cpp)"),
    (r"--config=directory", "D10 a directory as --config is an internal error (train.cpp read_config_file)"),
    (r"train --resume(=|.*outside)", "D11 --resume FILE outside a run: 66 with an empty path (trainer.cpp resume)"),
    (r"finetune lenet5\.safetensors as resnet18", "D12 finetune trains from weights that fit nothing (classification.cpp)"),
    (r"--freeze selects nothing", "D13 log line before the error (finetune)"),
    (r"caption IMAGE", "D14 caption: one bad image gives two error lines (caption.cpp)"),
    (r"data inspect --(input-size|val-split)", "D15 data inspect does not validate --input-size / --val-split"),
    (r"data download (offline|--from|mnist --from)", "D16 data download makes $ZOO_DATA/NAME (and a .lock) before checking its inputs"),
    (r"data prepare --train-tar=(directory|empty|nonutf8-bad|text)$", "D17 data prepare makes the output before reading the archive; a directory is 65"),
    (r"cached file directory", "D18 weights verify: a directory in the cache is exit 74, not 66"),
    (r"^ok: ", "D19 a valid path that is not UTF-8 breaks JSON output/metadata (exit 70)"),
]


# Defects still open in zoo: their rows run and are reported as XFAIL while they fail; a row
# that passes while listed here fails the test, so that the list only shrinks.
OPEN_DEFECTS = []  # D13, D16 and D17 were the last; all of the above are fixed


CLI11_TAIL = b"Run with --help for more information."


def known_defects(name, stderr=b""):
    found = [d for pattern, d in KNOWN_DEFECTS if re.search(pattern, name)]
    if CLI11_TAIL in stderr:
        found.insert(0, "D1 CLI11 parse errors: 2 lines, no 'zoo: error:' (app/main.cpp app.exit)")
    return found


# ---------------------------------------------------------------------------------------------
# Running


def listing(root):
    """{relative bytes path: (type, size, mtime_ns)} of everything under root."""
    out = {}
    broot = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(broot):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            kind = "dir" if os.path.isdir(full) and not os.path.islink(full) else ("link" if os.path.islink(full) else "file")
            out[os.path.relpath(full, broot)] = (kind, 0 if kind == "dir" else st.st_size,
                                                 0 if kind == "dir" else st.st_mtime_ns)
    return out


SANITIZED = False  # --sanitized: zoo is built with AddressSanitizer (see main)
SANITIZED_SLOWDOWN = 4


def limit_resources():
    # AddressSanitizer reserves terabytes of address space for its shadow memory, so under it the
    # limit is its own largest-allocation option instead (base_env).
    if not SANITIZED:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def shown(arg):
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "backslashreplace")
    return arg if arg and not re.search(r"[\s'\"]", arg) else repr(arg)


def run_case(zoo, fixtures, scratch, row):
    case = tempfile.mkdtemp(prefix="case-", dir=scratch)
    try:
        shutil.copytree(fixtures, os.path.join(case, "fx"), symlinks=True)
        for d in ("home", "zoo-data", "torch-home", "tmp", "out"):
            os.makedirs(os.path.join(case, d))
        for path, content in row["setup"]:
            full = os.path.join(case, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if content is None:
                os.mkdir(full)
            else:
                with open(full, "wb") as f:
                    f.write(content)
        env = base_env(case)
        before = listing(case)
        argv = [zoo] + row["argv"]
        for attempt in range(60):
            start = time.monotonic()
            try:
                r = subprocess.run(argv, cwd=case, env=env, capture_output=True, timeout=TIMEOUT_S,
                                   preexec_fn=limit_resources)
                code, out, err = r.returncode, r.stdout, r.stderr
                break
            except subprocess.TimeoutExpired as e:
                code, out, err = None, e.stdout or b"", e.stderr or b""
                break
            except OSError:  # the binary is being relinked (ETXTBSY, EACCES, ENOENT): wait for it
                if attempt == 59:
                    raise
                time.sleep(2)
        seconds = time.monotonic() - start
        after = listing(case)
        return judge(row, code, out, err, before, after, seconds)
    finally:
        shutil.rmtree(case, ignore_errors=True)


def base_env(case):
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS")}
    env.update({"HOME": os.path.join(case, "home"), "ZOO_DATA": os.path.join(case, "zoo-data"),
                "TORCH_HOME": os.path.join(case, "torch-home"), "TMPDIR": os.path.join(case, "tmp"),
                "ZOO_OFFLINE": "1", "OMP_NUM_THREADS": "1", "NO_COLOR": "1"})
    if SANITIZED:  # an allocation over the limit fails (bad_alloc, exit 74) instead of aborting
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "allocator_may_return_null=1",
                                                     "max_allocation_size_mb=%d" % (ADDRESS_SPACE_LIMIT >> 20)]))
    return env


def judge(row, code, out, err, before, after, seconds):
    problems = []
    lines = err.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if SANITIZED:  # the sanitizer's own note when it answers an allocation over its limit with null
        lines = [l for l in lines if not re.match(rb"==\d+==WARNING: AddressSanitizer failed to allocate ", l)]
    if code is None:
        problems.append("timed out after %d s" % TIMEOUT_S)
    elif code < 0:
        problems.append("killed by signal %d" % -code)
    elif code != row["code"]:
        problems.append("exit %d, expected %d" % (code, row["code"]))
    if code in (70, 134, 139):
        problems.append("crash/internal error (exit %d)" % code)
    if row["ok"]:
        pass  # a run that works may log and print
    elif len(lines) != 1 or not lines[0].strip():
        problems.append("stderr has %d lines, expected 1" % len(lines))
    elif row["regex"] and not re.search(row["regex"].encode("utf-8") if isinstance(row["regex"], str) else row["regex"],
                                        lines[0], re.IGNORECASE):
        problems.append("stderr does not match /%s/" % row["regex"])
    if out.strip() and not row["ok"]:
        problems.append("stdout not empty (%d bytes)" % len(out))
    created = sorted(set(after) - set(before))
    if row["allow"] and code == row["code"]:
        created = [p for p in created if not re.search(row["allow"].encode(), p)]
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    for what, paths in (("wrote", created), ("removed", removed), ("modified", changed)):
        if paths:
            problems.append("%s %s" % (what, ", ".join(p.decode("utf-8", "backslashreplace") for p in paths[:6]) +
                                       (" (+%d)" % (len(paths) - 6) if len(paths) > 6 else "")))
    return {"row": row, "code": code, "stdout": out, "stderr": err, "seconds": seconds, "problems": problems}


def subcommands(zoo, path):
    """The subcommands `zoo PATH --help` lists."""
    r = subprocess.run([zoo] + path + ["--help"], capture_output=True, timeout=60, env=base_env(tempfile.gettempdir()))
    names, inside = set(), False
    for line in r.stdout.decode(errors="replace").splitlines():
        if line.startswith("Subcommands:"):
            inside = True
            continue
        if inside:
            if not line.startswith("  "):
                inside = False
                continue
            names.add(line.split()[0])
    return names


def available(zoo):
    top = subcommands(zoo, [])
    have = {""} | top
    for group in ("data", "weights"):
        if group in top:
            have |= {group + " " + s for s in subcommands(zoo, [group])}
    return have


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("zoo", help="the zoo binary (build/zoo)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("-k", "--select", default="", help="only the cases whose name matches this regex")
    parser.add_argument("-v", "--verbose", action="store_true", help="print stderr of failing cases in full")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--sanitized", action="store_true",
                        help="zoo is built with AddressSanitizer: no address-space limit (its own allocation "
                             "limit instead), %dx the timeout" % SANITIZED_SLOWDOWN)
    args = parser.parse_args()
    global SANITIZED, TIMEOUT_S
    if args.sanitized:
        SANITIZED = True
        TIMEOUT_S *= SANITIZED_SLOWDOWN
    zoo = os.path.abspath(args.zoo)
    if not os.access(zoo, os.X_OK):
        sys.exit("not an executable: %s" % zoo)

    rows = build_table()
    names = [r["name"] for r in rows]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        sys.exit("duplicate case names: %s" % ", ".join(sorted(dupes)))
    if args.select:
        rows = [r for r in rows if re.search(args.select, r["name"])]
    if args.list:
        for r in rows:
            print("%-60s %3d  zoo %s" % (r["name"], r["code"], " ".join(shown(a) for a in r["argv"])))
        return 0

    started = time.monotonic()
    have = available(zoo)
    scratch = tempfile.mkdtemp(prefix="zoo-bad-inputs-")
    try:
        fixtures = os.path.join(scratch, "fixtures")
        fixture_env = base_env(scratch)
        os.makedirs(fixture_env["HOME"])
        os.makedirs(fixture_env["TMPDIR"])
        build_fixtures(zoo, fixtures, fixture_env)
        print("fixtures built in %.1f s" % (time.monotonic() - started), flush=True)

        runnable, skipped = [], []
        for r in rows:
            (runnable if r["cmd"] in have else skipped).append(r)
        for r in skipped:
            print("SKIP  %s (no `zoo %s` in this binary)" % (r["name"], r["cmd"]))
        failed, xfailed = [], []
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_case, zoo, fixtures, scratch, r) for r in runnable]
            for row, future in zip(runnable, futures):  # in table order
                try:
                    res = future.result()
                except Exception as e:  # noqa: BLE001 - a case that could not run is a failure
                    res = {"row": row, "code": None, "stdout": b"", "stderr": b"", "seconds": 0.0,
                           "problems": ["could not run: %s" % e]}
                r = res["row"]
                line = "zoo " + " ".join(shown(a) for a in r["argv"])
                open_defect = [d for pattern, d in OPEN_DEFECTS if re.search(pattern, r["name"])]
                if open_defect and res["problems"]:
                    xfailed.append(res)
                    print("XFAIL %s: %s (open: %s)" % (r["name"], "; ".join(res["problems"]), open_defect[0]), flush=True)
                    continue
                if open_defect:  # fixed: the row must leave OPEN_DEFECTS
                    res["problems"] = ["passes, but is listed in OPEN_DEFECTS (%s): remove it there" % open_defect[0]]
                if res["problems"]:
                    failed.append(res)
                    known = known_defects(r["name"], res["stderr"])
                    print("FAIL  %s: %s\n      %s\n%s      stderr: %s" % (
                        r["name"], "; ".join(res["problems"]), line,
                        "".join("      known: %s\n" % d for d in known),
                        (res["stderr"] if args.verbose else res["stderr"][:400]).decode("utf-8", "backslashreplace")
                        .rstrip("\n").replace("\n", "\n              ")), flush=True)
                else:
                    print("PASS  %s (exit %d, %.1f s)" % (r["name"], res["code"], res["seconds"]), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    total = len(runnable)
    print("\n%d cases: %d passed, %d failed, %d open defects (XFAIL), %d skipped; %.0f s" % (
        total, total - len(failed) - len(xfailed), len(failed), len(xfailed), len(skipped), time.monotonic() - started))
    if failed:
        # The failures by kind of problem, so that one defect shared by many rows reads as one.
        by_kind = {}
        for res in failed:
            for p in res["problems"]:
                key = re.sub(r"\(\d+ bytes\)", "", p)
                key = re.sub(r"^exit \d+, expected", "exit N, expected", key)
                key = re.sub(r"^(wrote|removed|modified) .*", lambda m: m.group(1) + " files", key)
                key = re.sub(r"stderr does not match .*", "stderr does not name what/where", key)
                by_kind.setdefault(key, []).append(res["row"]["name"])
        print("failures by problem:")
        for key, cases in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
            print("  %3d  %s  (e.g. %s)" % (len(cases), key, "; ".join(cases[:3])))
        by_defect = {}
        for res in failed:
            for d in known_defects(res["row"]["name"], res["stderr"]) or ["not a known defect: check the case"]:
                by_defect.setdefault(d, []).append(res["row"]["name"])
        print("failures by known zoo defect:")
        for d, cases in sorted(by_defect.items(), key=lambda kv: -len(kv[1])):
            print("  %3d  %s" % (len(cases), d))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
