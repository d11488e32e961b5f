#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the fuzzers' seed corpus (tests/fuzz/corpus/{npy,problem}).

Run by hand after changing a harness's input format; the output is
committed. No third-party modules: the .npy files are written the way
NumPy's format.py writes them (magic, version, little-endian header length,
dict padded with spaces to a multiple of 64, '\\n').
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def npy(descr, shape, data, version=1, fortran=False, raw_dict=None):
    shape_text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    text = raw_dict or "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_text)
    prefix = 10 if version == 1 else 12
    length = len(text) + 1
    length += (64 - (prefix + length) % 64) % 64
    header = text + " " * (length - len(text) - 1) + "\n"
    size = struct.pack("<H", length) if version == 1 else struct.pack("<I", length)
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode("latin-1") + data


def floats(fmt, count):
    return b"".join(struct.pack(fmt, (i % 7 - 3) * 0.25) for i in range(count))


def npy_seeds():
    return {
        "f4_2x3": npy("<f4", (2, 3), floats("<f", 6)),
        "f8_vector": npy("<f8", (5,), floats("<d", 5)),
        "f4_scalar": npy("<f4", (), floats("<f", 1)),
        "f4_empty_axis": npy("<f4", (2, 0, 3), b""),
        "f8_5d": npy("<f8", (1, 2, 2, 2, 1), floats("<d", 8)),
        "f4_version2": npy("<f4", (3,), floats("<f", 3), version=2),
        "f4_version3": npy("<f4", (1, 1), floats("<f", 1), version=3),
        "special_values": npy("<f4", (4,), struct.pack("<4f", float("nan"), float("inf"),
                                                        float("-inf"), 1e-40)),
        "big_endian": npy(">f4", (2,), b"\0" * 8),
        "fortran": npy("<f4", (2, 2), floats("<f", 4), fortran=True),
        "int_dtype": npy("<i4", (2,), b"\0" * 8),
        "truncated_data": npy("<f8", (4,), floats("<d", 3)),
        "long_python2": npy("<f4", (2,), floats("<f", 2),
                            raw_dict="{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }"),
        "huge_dim": npy("<f4", (2**62, 4), b""),
        "bad_magic": b"\x93NUMPZ\x01\x00\x10\x00{}" + b" " * 14 + b"\n",
    }


# fuzz_problem's format: one byte per field, in read_problem's order; a byte
# below 0xf8 is lo + b % (hi - lo + 1) for the field's range.
FIELDS = [  # name, lo, hi (axes: three fields each)
    ("rank", 0, 4), ("dtype", 0, 3), ("batch", 0, 3), ("cin", 0, 6), ("cout", 0, 6),
    ("groups", 0, 3), ("input", 0, 6, 3), ("kernel", 0, 5, 3), ("strides", 0, 4, 3),
    ("dilation", 0, 3, 3), ("padding", 0, 5), ("pads_begin", -1, 4, 3), ("pads_end", -1, 4, 3),
    ("has_output_padding", 0, 1), ("output_padding", -1, 3, 3), ("output_shape", 0, 14, 3),
    ("data_format", 0, 2), ("kernel_layout", 0, 2), ("use_bias", 0, 1), ("activation", 0, 26),
    ("alpha", 0, 10), ("passes", 0, 8),
]
ALPHA_INDEX = {"nan": 0, 0.0: 1, 0.2: 2, 0.5: 3, 1.0: 4}


def problem(**values):
    out = bytearray()
    for field in FIELDS:
        name, lo = field[0], field[1]
        if name == "alpha":
            value = values.get("alpha", "nan")
            out.append(ALPHA_INDEX[value])
            continue
        count = field[3] if len(field) > 3 else 1
        given = values.get(name)
        items = given if isinstance(given, (list, tuple)) else [given] * count
        for item in items:
            if item is None:
                return bytes(out)  # the rest keeps tconv_problem_init's defaults
            if isinstance(item, str) and item.startswith("raw:"):
                out.append(0xF8)
                out += struct.pack("<q", int(item[4:]))
            else:
                out.append(item - lo)
    return bytes(out)


# tconv_padding_t: explicit 0, valid 1, same 2, same_upper 3, same_lower 4.
BASE = dict(rank=3, dtype=1, batch=1, cin=2, cout=3, groups=1, input=[3, 3, 3], kernel=[3, 3, 3],
            strides=[2, 2, 2], dilation=[1, 1, 1], padding=1, pads_begin=[0, 0, 0],
            pads_end=[0, 0, 0], has_output_padding=0, output_padding=[0, 0, 0],
            output_shape=[0, 0, 0], data_format=0, kernel_layout=0, use_bias=1, activation=0,
            alpha="nan", passes=1)


def variant(**changes):
    values = dict(BASE)
    values.update(changes)
    return problem(**values)


def problem_seeds():
    return {
        "keras_valid_3d": variant(),
        "keras_same_relu_f64": variant(padding=2, dtype=2, activation=1),
        "keras_same_output_padding": variant(padding=2, has_output_padding=1,
                                             output_padding=[1, 1, 1]),
        "torch_explicit_pads": variant(padding=0, pads_begin=[1, 1, 1], pads_end=[1, 1, 1],
                                       kernel_layout=1, data_format=1),
        "onnx_output_shape": variant(padding=0, output_shape=[8, 8, 8]),
        "onnx_same_lower": variant(padding=4, strides=[3, 2, 1]),
        "grouped_dilated_2d": variant(rank=2, cin=4, cout=6, groups=2, dilation=[2, 2, 2]),
        "rank1_training": variant(rank=1, passes=7, activation=12),
        "leaky_alpha": variant(activation=3, alpha=0.2, passes=3),
        "huge_batch": variant(batch="raw:1099511627776"),
        "huge_kernel_stride": variant(kernel=["raw:1048576"] * 3, strides=["raw:1048576"] * 3),
        "negative_pads": variant(padding=0, pads_begin=[-1, 0, 0]),
        "defaults_only": problem(rank=2),
    }


def write(kind, seeds):
    directory = os.path.join(HERE, "corpus", kind)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("npy", npy_seeds())
    write("problem", problem_seeds())
