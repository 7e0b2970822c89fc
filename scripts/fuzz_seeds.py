#!/usr/bin/python3
"""Seed corpora for zoo's libFuzzer harnesses (fuzz/): small valid examples of each format zoo
reads plus a few edge cases, one folder per harness under OUT_DIR (OUT_DIR/<name>/). Nothing
binary is kept in the repository; this script writes them all, the same bytes on every run
(except the legacy .pth files, whose storage keys torch.save takes from object ids).

    scripts/fuzz_seeds.py [--generator BUILD/fuzz/fuzz_seeds] [--force] OUT_DIR [NAME...]

A harness folder that already holds files is left as it is unless --force. The checkpoint,
train_config and meta (checkpoint metadata) seeds come from zoo's own writers through the
fuzz_seeds program (--generator); the .pth seeds from torch.save, the MAT-file seeds from
scipy.io.savemat and the JPEG seeds from PIL, each skipped with a warning when the module is
missing (Debian: python3-torch, python3-scipy, python3-pil). Input layouts that a harness
adds to the file (a first byte that picks a layout) are described in that harness's header
comment.
"""

import argparse
import bz2
import gzip
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

HARNESSES = ["idx", "cifar", "safetensors", "pth", "pickle", "checkpoint", "captions", "text",
             "archive", "image", "train_config", "matfile", "catalog", "meta"]


def warn(msg):
    print("fuzz_seeds.py: " + msg, file=sys.stderr)


# --- idx ------------------------------------------------------------------------------------

def idx_bytes(dims, data, dtype=0x08):
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def seeds_idx():
    images = idx_bytes([2, 4, 4], bytes(range(32)))
    labels = idx_bytes([5], bytes([0, 1, 2, 9, 3]))
    return {
        "labels": labels,
        "images": images,
        "images.gz": gzip.compress(images, mtime=0),
        "four_dims": idx_bytes([1, 2, 2, 2], bytes(8)),
        "truncated": idx_bytes([2, 4, 4], bytes(20)),
        "extra": labels + b"\x00",
        "float_type": idx_bytes([2], struct.pack(">ff", 1.0, 2.0), dtype=0x0D),
        "zero_dim": idx_bytes([0], b""),
        "huge_claim": idx_bytes([60000, 28, 28], bytes(16)),
        "huge_claim.gz": gzip.compress(idx_bytes([60000, 28, 28], bytes(16)), mtime=0),
    }


# --- CIFAR ----------------------------------------------------------------------------------
# Byte 0: layout (0 CIFAR-10, 1 CIFAR-100 fine, 2 CIFAR-100 coarse, 3 CIFAR-10 five batches;
# +4: byte 1 is the length of a class names file that follows); the rest is one batch file.

def cifar_record(labels, seed):
    return bytes(labels) + bytes((seed * 7 + i) % 256 for i in range(3072))


def seeds_cifar():
    c10 = cifar_record([3], 1) + cifar_record([9], 2)
    c100 = cifar_record([4, 99], 3)
    names10 = "\n".join("class%d" % i for i in range(10)).encode() + b"\n"
    names20 = "\r\n".join("super%d" % i for i in range(20)).encode()
    return {
        "cifar10": b"\x00" + c10,
        "cifar100_fine": b"\x01" + c100,
        "cifar100_coarse": b"\x02" + c100,
        "cifar10_five": b"\x03" + cifar_record([0], 4),
        "cifar10_names": bytes([4, len(names10)]) + names10 + c10,
        "cifar100_coarse_names": bytes([6, len(names20)]) + names20 + cifar_record([19, 5], 5),
        "bad_label": b"\x00" + cifar_record([10], 6),
        "short": b"\x00" + cifar_record([1], 7)[:3000],
        "wrong_names": bytes([4, 4]) + b"a\nb\n" + c10,
    }


# --- safetensors ----------------------------------------------------------------------------

def safetensors_bytes(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape, data bytes)] in data order."""
    header, offset, blob = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blob += data
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def raw_safetensors(header, blob):
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + blob


def seeds_safetensors():
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, -0.5)
    return {
        "basic": safetensors_bytes([("fc.weight", "F32", [2, 3], f32),
                                    ("fc.bias", "F32", [2], struct.pack("<2f", 0.5, 1.5))],
                                   {"format": "pt"}),
        "dtypes": safetensors_bytes([
            ("a", "F64", [1], struct.pack("<d", 2.0)), ("b", "F16", [2], b"\x00\x3c\x00\x40"),
            ("c", "BF16", [1], b"\x80\x3f"), ("d", "I64", [1], struct.pack("<q", -3)),
            ("e", "I32", [1], struct.pack("<i", 7)), ("f", "I16", [1], b"\x01\x00"),
            ("g", "I8", [1], b"\xff"), ("h", "U8", [2], b"\x01\x02"), ("i", "BOOL", [2], b"\x00\x01")]),
        "scalar_and_empty": safetensors_bytes([("s", "F32", [], struct.pack("<f", 3.0)),
                                               ("z", "F32", [0, 4], b"")]),
        "unpadded": safetensors_bytes([("x", "U8", [3], b"abc")], pad=False),
        "overlap": raw_safetensors({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                                    "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"abc"),
        "outside": raw_safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"abcd"),
        "header_too_long": struct.pack("<Q", 1 << 40) + b"{}",
        "empty_header": safetensors_bytes([]),
    }


# --- .pth and pickles -----------------------------------------------------------------------

def seeds_pth(torch):
    from collections import OrderedDict
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 3, generator=g)
    base = torch.arange(6, dtype=torch.float32)
    out = {}

    def save(name, obj, legacy=False):
        buf = io.BytesIO()
        torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
        out[name] = buf.getvalue()

    save("state_dict", OrderedDict([("fc.weight", w), ("fc.bias", torch.zeros(2))]))
    save("legacy", OrderedDict([("fc.weight", w), ("fc.bias", torch.ones(2, dtype=torch.float64))]),
         legacy=True)
    save("checkpoint_wrapper", {"epoch": 3, "state_dict": OrderedDict([("w", w)]), "best": 0.5})
    save("shared_views", OrderedDict([("all", base), ("tail", base[2:]), ("t", base.view(2, 3).t())]))
    save("dtypes", OrderedDict([("l", torch.tensor([1, -2], dtype=torch.int64)),
                                ("h", torch.tensor([1.5], dtype=torch.float16)),
                                ("b", torch.tensor([True, False])),
                                ("u", torch.tensor([255], dtype=torch.uint8)),
                                ("bf", torch.tensor([2.0], dtype=torch.bfloat16))]))
    save("scalar_empty", OrderedDict([("s", torch.tensor(2.0)), ("e", torch.zeros(0, 3))]))
    save("parameter", OrderedDict([("p", torch.nn.Parameter(torch.ones(2)))]))
    save("not_a_dict", [torch.ones(1)])
    return out


def pickles_from_pth(pth_seeds):
    """The data.pkl records of the zip seeds and the raw legacy files (pickles back to back)."""
    out = {}
    for name, data in pth_seeds.items():
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if info.filename.endswith("/data.pkl"):
                        out[name + ".pkl"] = z.read(info)
        else:
            out[name + ".legacy"] = data
    return out


def seeds_pickle_plain():
    import pickle
    from collections import OrderedDict
    values = {
        "containers": OrderedDict([("a", [1, 2.5, None, True]), ("b", (b"xy", "z" * 3, {}))]),
        "numbers": [0, -1, 255, 65536, -2 ** 31, 2 ** 63 - 1, 2 ** 70, -(2 ** 80), 1e300, -0.0],
        "strings": ["", "é", "\u20ac", "\U0001F600", b"\x00\xff"],
        "nested": [[[[[]]]], ((),), {"k": {"k": {"k": 1}}}],
        "memo": [[1, 2]] * 3,
    }
    out = {}
    for name, v in values.items():
        for proto in (2, 3, 4, 5):
            out["%s_p%d" % (name, proto)] = pickle.dumps(v, protocol=proto)
    out["global_refused"] = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."
    out["truncated"] = pickle.dumps([1, 2, 3], protocol=2)[:-3]
    return out


# --- captions -------------------------------------------------------------------------------
# Byte 0: 0 Karpathy folder, 1 Karpathy .json path, 2 COCO, 3 Flickr8k (NUL-separated token
# file and split files). The harness puts image files a.jpg .. e.jpg, 1.jpg .. 3.jpg in place.

def seeds_captions():
    karpathy = {"images": [
        {"filepath": "train2014", "filename": "a.jpg", "split": "train",
         "sentences": [{"tokens": ["a", "dog", "runs"], "raw": "A dog runs."}]},
        {"filename": "b.jpg", "split": "restval",
         "sentences": [{"raw": "Two cats, sleeping!"}, {"tokens": [], "raw": "x"}]},
        {"filename": "c.jpg", "split": "val", "sentences": [{"tokens": ["a", "bird"]}]},
        {"filename": "d.jpg", "split": "test", "sentences": [{"raw": "Ünïcode wörds here"}]},
    ]}
    coco = {"info": {"year": 2017}, "images": [
        {"id": 1, "file_name": "a.jpg", "width": 4}, {"id": 2, "file_name": "b.jpg"}],
        "annotations": [{"image_id": 1, "id": 10, "caption": "A man riding a horse."},
                        {"image_id": 2, "id": 11, "caption": "Something\tsomething."},
                        {"image_id": 1, "id": 12, "caption": ""}]}
    tokens = "".join("%s.jpg#%d\t%s\n" % (img, n, cap) for img, caps in [
        ("a", ["A dog .", "dog runs"]), ("b", ["Cat"]), ("c", ["a bird flies"]),
        ("d", ["two people"]), ("e", ["the end ."])] for n, cap in enumerate(caps))
    enc = lambda o: json.dumps(o, ensure_ascii=False).encode()
    return {
        "karpathy_dir": b"\x00" + enc(karpathy),
        "karpathy_file": b"\x01" + enc(karpathy),
        "coco": b"\x02" + enc(coco),
        "coco_unknown_id": b"\x02" + enc({"images": [{"id": 1, "file_name": "a.jpg"}],
                                         "annotations": [{"image_id": 5, "caption": "x"}]}),
        "flickr_sorted": b"\x03" + tokens.encode(),
        "flickr_splits": b"\x03" + tokens.encode() + b"\x00a.jpg\nb.jpg\nc.jpg\n\x00d.jpg\r\n\x00e.jpg",
        "flickr_bad_line": b"\x03a.jpg 0 no tab\n",
        "karpathy_bad_split": b"\x00" + enc({"images": [{"filename": "a.jpg", "split": "dev",
                                                         "sentences": []}]}),
        "bom_json": b"\x01\xef\xbb\xbf" + enc(karpathy),
    }


# --- text -----------------------------------------------------------------------------------

def seeds_text():
    return {
        "ascii": b"Hello, world.\nSecond line\twith a tab.\n",
        "multibyte": "Ünïcödé ş ğ € \U0001F600 日本語\n".encode(),
        "bom": b"\xef\xbb\xbfwith a byte order mark\n",
        "invalid": b"bad \xff byte, lone \x80 continuation, cut \xe2\x82",
        "overlong": b"\xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf",
        "surrogate": b"\xed\xa0\x80 \xed\xbf\xbf",
        "above_max": b"\xf4\x90\x80\x80 \xf5\x80\x80\x80",
        "empty": b"",
        "nul": b"a\x00b",
    }


# --- archives -------------------------------------------------------------------------------

def tar_bytes(entries):
    """entries: (name, data) for files, (name, None) for directories, or a TarInfo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tar.addfile(e)
                continue
            name, data = e
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    # tarfile pads to 10 KiB records; keep the members and the two-block end marker only.
    end = len(data.rstrip(b"\0"))
    return data[:(end + 511) // 512 * 512 + 1024]


def link_info(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def seeds_archive():
    files = [("dir", None), ("dir/a.txt", b"alpha\n"), ("./dir//b.bin", bytes(range(64))),
             ("c", b"")]
    inner = tar_bytes([("n01440764_1.JPEG", b"\xff\xd8\xff\xd9"), ("n01440764_2.JPEG", b"x" * 100)])
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zip_info("z/one.txt", zipfile.ZIP_DEFLATED), "one" * 20)
        z.writestr(zip_info("two.txt", zipfile.ZIP_DEFLATED), "two")
    return {
        "plain.tar": tar_bytes(files),
        "gz.tar.gz": gzip.compress(tar_bytes(files), mtime=0),
        "bz2.tar.bz2": bz2.compress(tar_bytes(files)),
        "xz.tar.xz": lzma.compress(tar_bytes(files)),
        "nested.tar": tar_bytes([("n01440764.tar", inner), ("n01443537.tar", tar_bytes([]))]),
        "nested_gz.tar": tar_bytes([("inner.tar.gz", gzip.compress(inner, mtime=0))]),
        "zip.zip": zbuf.getvalue(),
        "raw.gz": gzip.compress(b"just one compressed file\n" * 4, mtime=0),
        "symlink.tar": tar_bytes([("a", b"x"), link_info("l", "/etc/passwd", tarfile.SYMTYPE)]),
        "hardlink.tar": tar_bytes([("a", b"x"), link_info("h", "a", tarfile.LNKTYPE)]),
        "traversal.tar": tar_bytes([("../escape", b"x"), ("/abs", b"y")]),
        "partial_name.tar": tar_bytes([(".zoo-part.x", b"x")]),
        "truncated.tar": tar_bytes(files)[:700],
    }


# --- images ---------------------------------------------------------------------------------

def png_bytes(w, h, color_type=2, bit_depth=8, rows=None):
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = b"".join(b"\x00" + bytes((x * 40 + y * 10 + c) % 256 for x in range(w) for c in range(channels))
                   for y in range(h)) if rows is None else rows

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row)) + chunk(b"IEND", b""))


def bmp_bytes(w, h):
    pad = b"\x00" * ((4 - w * 3 % 4) % 4)
    pixels = b"".join(bytes((x * 30 + y * 50) % 256 for x in range(w * 3)) + pad for y in range(h))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def tiff_bytes(w, h):
    """A little-endian, uncompressed 8-bit grey TIFF: header, one IFD, one strip of w x h bytes
    (the strip is cut to 64 bytes, so a big claim stays a small file)."""
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 7 + 4), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, w * h)]
    entries.sort()
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, typ, count, value) if typ == 4 else struct.pack("<HHIHH", tag, typ, count, value, 0)
        for tag, typ, count, value in entries) + struct.pack("<I", 0)
    data_at = 8 + len(ifd)
    entries = [(t, ty, c, data_at if t == 273 else v) for t, ty, c, v in entries]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, typ, count, value) if typ == 4 else struct.pack("<HHIHH", tag, typ, count, value, 0)
        for tag, typ, count, value in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes((i * 37) % 256 for i in range(min(w * h, 64)))


def seeds_image():
    out = {
        "rgb.png": png_bytes(6, 4),
        "gray.png": png_bytes(5, 5, color_type=0),
        "rgba.png": png_bytes(3, 2, color_type=6),
        "gray16.png": png_bytes(2, 2, color_type=0, bit_depth=16,
                                rows=b"\x00\x01\x02\x03\x04\x00\x05\x06\x07\x08"),
        "huge_header.png": png_bytes(70000, 70000, rows=b"\x00"),
        "huge_header.bmp": struct.pack("<2sIHHI", b"BM", 62, 0, 0, 54) +
                           struct.pack("<IiiHHIIiiII", 40, 30000, -30000, 1, 24, 0, 0, 0, 0, 0, 0) + bytes(8),
        "huge_header.ppm": b"P6\n# big\n30000 30000\n255\n" + bytes(12),
        "huge_header.tif": tiff_bytes(30000, 30000),
        "not_supported.pfm": b"PF\n3 2\n-1.0\n" + bytes(72),
        "image.bmp": bmp_bytes(4, 3),
        "image.tiff": tiff_bytes(3, 2),
        "image.pgm": b"P5\n3 2\n255\n" + bytes(range(0, 60, 10)),
        "image.ppm": b"P6\n2 2\n255\n" + bytes(range(12)),
        "empty": b"",
    }
    try:
        from PIL import Image
    except ImportError:
        warn("PIL missing: no JPEG image seeds")
        return out
    img = Image.new("RGB", (40, 24))
    img.putdata([((x * 6) % 256, (y * 10) % 256, 128) for y in range(24) for x in range(40)])
    for name, kwargs in [("baseline.jpg", {"quality": 50}), ("progressive.jpg", {"progressive": True}),
                         ("subsampled.jpg", {"subsampling": 2, "quality": 30})]:
        buf = io.BytesIO()
        img.save(buf, "JPEG", **kwargs)
        out[name] = buf.getvalue()
    buf = io.BytesIO()
    img.convert("L").save(buf, "JPEG", quality=40)
    out["gray.jpg"] = buf.getvalue()
    out["truncated.jpg"] = out["baseline.jpg"][:-40]
    buf = io.BytesIO()
    img.save(buf, "WEBP")
    out["image.webp"] = buf.getvalue()
    buf = io.BytesIO()
    img.save(buf, "TIFF")
    out["image.tif"] = buf.getvalue()
    return out


# --- MAT-files ------------------------------------------------------------------------------

def seeds_matfile():
    try:
        import numpy as np
        import scipy.io as sio
    except ImportError:
        warn("numpy/scipy missing: no MAT-file seeds")
        return {}

    def save(variables, compress, oned="column"):
        buf = io.BytesIO()
        sio.savemat(buf, variables, do_compression=compress, oned_as=oned)
        data = bytearray(buf.getvalue())
        text = b"MATLAB 5.0 MAT-file, written by zoo's fuzz seeds"
        data[:116] = text.ljust(116)  # scipy's header holds the date; keep seeds reproducible
        return bytes(data)

    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
              "wordnet_height", "num_train_images"]
    synsets = np.zeros((3, 1), dtype=[(f, object) for f in fields])
    rows = [(1.0, "n01440764", "tench, Tinca tinca", "a fish", 0.0, np.zeros((0, 0)), 0.0, 1300.0),
            (2.0, "n01443537", "goldfish", "a fish", 0.0, np.zeros((0, 0)), 0.0, 1300.0),
            (3.0, "n00000001", "fishes", "more fish", 2.0, np.array([[1.0, 2.0]]), 1.0, 0.0)]
    for i, row in enumerate(rows):
        for f, v in zip(fields, row):
            synsets[i, 0][f] = v
    cell = np.empty((1, 3), dtype=object)
    cell[0, 0] = np.array([[3.25]])
    cell[0, 1] = "text"
    cell[0, 2] = np.array([[1, 2]], dtype=np.int16)
    assorted = {
        "matrix": np.array([[1.0, 2.5, -3.0], [4.0, 1e300, -0.125]]),
        "ints": np.array([-7, 0, 2147483647], dtype=np.int32),
        "byte": np.uint8(200),
        "name": "ünïcode",
        "lines": np.array(["abc", "xyz"]),
        "empty": np.zeros((0, 0)),
        "cell": cell,
        "cube": np.arange(8, dtype=np.float32).reshape(2, 2, 2),
        "big": np.array([[-2 ** 63, 2 ** 63 - 1]], dtype=np.int64),
    }
    return {
        "meta.mat": save({"synsets": synsets}, False),
        "meta_z.mat": save({"synsets": synsets}, True),
        "assorted.mat": save(assorted, False),
        "assorted_z.mat": save(assorted, True, "row"),
        "v73_header.mat": b"MATLAB 7.3 MAT-file".ljust(116) + b"\x00" * 8 + b"\x00\x02IM",
        "big_endian_header.mat": b"MATLAB 5.0 MAT-file".ljust(116) + b"\x00" * 8 + b"\x01\x00MI",
        "ground_truth.txt": b"1\n2\n 3 \n1000\n",
    }


# --- the weights catalogue ($ZOO_WEIGHTS_CATALOG) ---------------------------------------------

def seeds_catalog():
    full = {"name": "team:resnet18.SHAPES_V1", "model": "resnet18", "version": "SHAPES_V1",
            "enum": "", "default": True, "url": "https://models.example/resnet18-0123abcd.pth",
            "file": "resnet18-0123abcd.pth", "sha256": "0123abcd" + "0" * 56, "size_mb": 44.7,
            "categories": "shapes", "crop": 64, "resize": 72, "mean": [0.5, 0.5, 0.5],
            "std": [0.25, 0.25, 0.25], "interpolation": "bilinear", "transform_input": False,
            "num_params": 11181642, "acc1": 91.5, "acc5": None, "gflops": 0.15,
            "recipe": "zoo train resnet18 --data shapes"}
    minimal = {"name": "team:lenet5", "model": "lenet5", "url": "file:///srv/models/lenet5-89ab.pth"}
    enc = lambda o: json.dumps(o, ensure_ascii=False).encode()
    return {
        "team.json": enc([full, minimal]),
        "minimal.json": enc([minimal]),
        "features_only.json": enc([dict(minimal, name="team:vgg16.FEATURES", model="vgg16", categories="",
                                        acc1=None, enum="VGG16_Weights")]),
        "empty_list.json": b"[]",
        "not_list.json": enc(full),
        "builtin_name.json": enc([dict(minimal, name="torchvision:resnet18.IMAGENET1K_V1")]),
        "repeated_name.json": enc([minimal, minimal]),
        "missing_url.json": enc([{"name": "team:x", "model": "lenet5"}]),
        "bad_name.json": enc([dict(minimal, name="lenet5")]),
        "nearest.json": enc([dict(minimal, interpolation="nearest")]),
        "short_sha.json": enc([dict(minimal, sha256="abc")]),
        "wrong_types.json": b'[{"name": "team:a", "model": "m", "url": "u", "crop": "224", "mean": [1, 2]}]',
        "floats_for_ints.json": b'[{"name": "team:a", "model": "m", "url": "u", "crop": 224.0, "resize": 1e300}]',
        "bad_json.json": b'[{"name": "team:a",}]',
    }


# --- checkpoints, checkpoint metadata and --config: zoo's own writers --------------------------

def generated_seeds(generator, out_dir, names, force):
    wanted = [n for n in ("checkpoint", "train_config", "meta")
              if n in names and (force or not has_files(os.path.join(out_dir, n)))]
    if not wanted:
        return
    if not generator:
        warn("no --generator: no %s seeds (build the fuzz_seeds target)" % " or ".join(wanted))
        return
    subprocess.run([generator, out_dir] + wanted, check=True)
    # Edge cases the writers never make.
    cfg = os.path.join(out_dir, "train_config")
    if "train_config" in wanted:
        extra = {"wrong_type.json": b'{"epochs": "ten"}', "unknown_key.json": b'{"epoch": 3}',
                 "not_object.json": b"[1, 2]", "bad_json.json": b'{"lr": 0.1,,}',
                 "negative.json": b'{"batch_size": -1, "lr": -0.5}',
                 "floats_for_ints.json": b'{"epochs": 2.0, "seed": 7}',
                 "int_out_of_range.json": b'{"epochs": 1e300}'}
        for name, data in extra.items():
            write(os.path.join(cfg, name), data)
    meta = os.path.join(out_dir, "meta")
    if "meta" in wanted:
        norm = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
        extra = {"not_object.json": b"[1, 2]", "bad_json.json": b'{"vocab": ["a",]}',
                 "vocab_two_chars.json": b'{"vocab": ["ab", "c"]}',
                 "vocab_repeats.json": b'{"vocab": ["a", "\\u0061"]}',
                 "vocab_not_string.json": b'{"vocab": [1, ["a"], null]}',
                 "caption_specials.json": b'{"vocab": {"words": ["<pad>", "<start>", "x", "<unk>"]}}',
                 "caption_empty_word.json": b'{"vocab": {"words": ["<pad>", "<start>", "<end>", "<unk>", ""]}}',
                 "charlm_missing.json": b'{"char_lm": {"vocab_size": 3}}',
                 "charlm_wrong_type.json": b'{"char_lm": {"vocab_size": "3", "cell": "lstm", "embed": 8, '
                                           b'"hidden": 8, "layers": 1, "dropout": 0}}',
                 "captioner_wrong_type.json": b'{"captioner": {"vocab_size": 9, "backbone": 18, "embed": []}}',
                 "shape_two.json": json.dumps({"input_shape": [3, 32], "normalization": norm}).encode(),
                 "shape_negative.json": json.dumps({"input_shape": [-1, 0, 2 ** 63 - 1],
                                                    "normalization": norm, "resize": -5}).encode(),
                 "shape_floats.json": json.dumps({"input_shape": [3.0, 1e300, 32],
                                                  "normalization": norm}).encode(),
                 "norm_short.json": b'{"input_shape": [1, 28, 28], "normalization": {"mean": [0.5], "std": 1}}'}
        for name, data in extra.items():
            write(os.path.join(meta, name), data)
    ckpt = os.path.join(out_dir, "checkpoint")
    if "checkpoint" in wanted:
        write(os.path.join(ckpt, "not_zip.pt"), b"not a checkpoint")
        write(os.path.join(ckpt, "empty_zip.pt"), empty_zip())
        best = os.path.join(ckpt, "best.pt")
        if os.path.exists(best):
            with open(best, "rb") as f:
                write(os.path.join(ckpt, "zip_bomb.pt"), zip_bomb(f.read()))


def zip_bomb(data):
    """The zip `data` with its first data/ record deflated and its uncompressed size claimed as
    2.75 GiB (local header and central directory): a reader must refuse the claim, not
    allocate it."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        infos = [(info.filename, src.read(info)) for info in src.infolist()]
    target = next((n for n, _ in infos if "/data/" in n), infos[0][0])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name, data in infos:
            out.writestr(zip_info(name, zipfile.ZIP_DEFLATED if name == target else zipfile.ZIP_STORED), data)
    b = bytearray(buf.getvalue())
    i = b.find(b"PK\x01\x02")
    while i >= 0:
        name_len = struct.unpack_from("<H", b, i + 28)[0]
        if bytes(b[i + 46:i + 46 + name_len]).decode() == target:
            struct.pack_into("<I", b, i + 24, 0xB0000000)
            local = struct.unpack_from("<I", b, i + 42)[0]
            struct.pack_into("<I", b, local + 22, 0xB0000000)
        i = b.find(b"PK\x01\x02", i + 4)
    return bytes(b)


def zip_info(name, compress_type=zipfile.ZIP_STORED):
    """A zip member with a fixed date, so the seeds do not change from run to run."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compress_type
    return info


def empty_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zip_info("archive/version"), "3\n")
    return buf.getvalue()


# --- main -----------------------------------------------------------------------------------

def has_files(path):
    return os.path.isdir(path) and any(os.scandir(path))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", help="the fuzz_seeds program (checkpoint, train_config, meta seeds)")
    parser.add_argument("--force", action="store_true", help="rewrite folders that hold files")
    parser.add_argument("out_dir")
    parser.add_argument("names", nargs="*", help="harnesses (default: all)")
    args = parser.parse_args()
    names = args.names or HARNESSES
    unknown = [n for n in names if n not in HARNESSES]
    if unknown:
        parser.error("unknown harness %s; known: %s" % (", ".join(unknown), " ".join(HARNESSES)))

    try:
        import torch
    except ImportError:
        torch = None
    pth = None

    def pth_seeds():
        nonlocal pth
        if pth is None:
            if torch is None:
                warn("torch missing: no .pth seeds, pickle seeds from Python's pickle only")
                pth = {}
            else:
                pth = seeds_pth(torch)
        return pth

    makers = {
        "idx": seeds_idx, "cifar": seeds_cifar, "safetensors": seeds_safetensors,
        "pth": lambda: dict(pth_seeds(), not_pth=b"\x00" * 20, legacy_magic_only=b"\x80\x02\x8a\x0a" +
                            bytes([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]) + b".",
                            **({"zip_bomb": zip_bomb(pth_seeds()["state_dict"])} if pth_seeds() else {})),
        "pickle": lambda: dict(pickles_from_pth(pth_seeds()), **seeds_pickle_plain()),
        "captions": seeds_captions, "text": seeds_text, "archive": seeds_archive,
        "image": seeds_image, "matfile": seeds_matfile, "catalog": seeds_catalog,
    }
    os.makedirs(args.out_dir, exist_ok=True)
    for name in names:
        if name not in makers:
            continue
        folder = os.path.join(args.out_dir, name)
        if has_files(folder) and not args.force:
            continue
        os.makedirs(folder, exist_ok=True)
        for file_name, data in makers[name]().items():
            write(os.path.join(folder, file_name), data)
    generated_seeds(args.generator, args.out_dir, names, args.force)
    for name in names:
        folder = os.path.join(args.out_dir, name)
        count = len(os.listdir(folder)) if os.path.isdir(folder) else 0
        if count == 0:
            warn("no seeds for %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
