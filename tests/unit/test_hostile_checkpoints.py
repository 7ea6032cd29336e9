"""A corpus of hostile checkpoint files through the command line: each is refused with exit 2
and one line (no traceback), well within a second's work and without allocating the network a
config claims (peak memory of the process checked)."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

# A fresh interpreter that imports torch and the model code sits at ~400-600 MB of RSS; a
# refusal must not add a network's worth on top.
MAX_RSS_BYTES = 1 << 30


def _good(tmp_path, tiny_model_config):
    from vam_gui.model import build_model, save_checkpoint

    return save_checkpoint(tmp_path / "good.safetensors", build_model(tiny_model_config), tiny_model_config)


def _with_header(good, dst, mutate) -> None:
    """Rewrite the safetensors JSON header with ``mutate(header)``, data bytes kept."""
    raw = good.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    mutate(header)
    text = json.dumps(header).encode()
    dst.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])


def _config(**changes):
    def mutate(header):
        config = json.loads(header["__metadata__"]["config"])
        config.update(changes)
        header["__metadata__"]["config"] = json.dumps(config)
    return mutate


def _corpus(tmp_path, good):
    raw = good.read_bytes()
    files = {
        "empty": b"",
        "text": b"hello, not a checkpoint\n",
        "truncated-half": raw[: len(raw) // 2],
        "truncated-header": raw[:20],
        "header-length-huge": struct.pack("<Q", 2**62) + raw[8:],
        "header-not-json": struct.pack("<Q", 10) + b"{not json!" + raw[18:],
        "pickle": b"\x80\x04\x95" + b"cos\nsystem\n(S'echo pwned > pwned'\ntR." ,
        "zip": b"PK\x03\x04" + os.urandom(200),
    }
    out = {}
    for name, data in files.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(data)
        out[name] = path
    mutations = {
        "no-metadata": lambda h: h.pop("__metadata__"),
        "metadata-not-strings": lambda h: h["__metadata__"].update(config=5),
        "config-not-json": lambda h: h["__metadata__"].update(config="{oops"),
        "config-a-list": lambda h: h["__metadata__"].update(config="[1, 2]"),
        "bridge-layers-huge": _config(bridge_layers=100000),
        "heads-a-bool": _config(bridge_heads=True),
        "sigma-nan": _config(sigma=float("nan")),
        "input-huge": _config(input_size=[4096, 4096], bridge_heads=64, vam_heads=64, d_model=2048,
                              bridge_layers=1, vam_layers=1),
        "unknown-field": _config(evil="yes"),
        "schema-unknown": _config(schema="no-such-schema", schema_def=None),
        "tensor-offsets-outside": lambda h: next(v for k, v in h.items() if k != "__metadata__")
        .update(data_offsets=[0, 2**40]),
        "tensor-dtype-unknown": lambda h: next(v for k, v in h.items() if k != "__metadata__")
        .update(dtype="Q99"),
        "tensor-shape-lies": lambda h: next(v for k, v in h.items() if k != "__metadata__")
        .update(shape=[10**6, 10**6]),
    }
    for name, mutate in mutations.items():
        path = tmp_path / f"{name}.safetensors"
        _with_header(good, path, mutate)
        out[name] = path
    folder = tmp_path / "a-folder.safetensors"
    folder.mkdir()
    out["a-folder"] = folder
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from vam_testing import tiny_config

    tmp = tmp_path_factory.mktemp("hostile")
    good = _good(tmp, tiny_config())
    image = tmp / "img.png"
    cv2.imwrite(str(image), np.full((64, 48), 120, np.uint8))
    return tmp, image, _corpus(tmp, good)


CASES = ["empty", "text", "truncated-half", "truncated-header", "header-length-huge", "header-not-json", "pickle",
         "zip", "no-metadata", "metadata-not-strings", "config-not-json", "config-a-list", "bridge-layers-huge",
         "heads-a-bool", "sigma-nan", "input-huge", "unknown-field", "schema-unknown", "tensor-offsets-outside",
         "tensor-dtype-unknown", "tensor-shape-lies", "a-folder"]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a runaway allocation fails, not the machine


CHILD = """
import contextlib, io, json, resource, sys, time
from vam_gui.cli import main
image, out_dir, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
results = {}
for case, path in files.items():
    err = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err):
        try:
            rc = main(["predict", image, "-c", path, "-o", f"{out_dir}/{case}.json", "--device", "cpu",
                       "--keep-names"])
        except BaseException as exc:  # a traceback in a real run
            rc = f"raised {type(exc).__name__}: {exc}"
    results[case] = {"rc": rc, "stderr": err.getvalue(), "seconds": time.perf_counter() - t0}
# VmHWM, not ru_maxrss: the latter survives exec, so it would count the pytest process this
# one was forked from; VmHWM is of this program's own address space.
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
results["maxrss"] = int(hwm[0].split()[1]) * 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def refusals(corpus):
    """Every case through ``vam-gui predict`` in one fresh interpreter (torch imported once)."""
    tmp, image, files = corpus
    run = subprocess.run([sys.executable, "-c", CHILD, str(image), str(tmp),
                          json.dumps({c: str(files[c]) for c in CASES})],
                         capture_output=True, text=True, timeout=600, cwd=tmp, preexec_fn=_limit_memory)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_checkpoint_is_refused_in_one_line(refusals, corpus, case):
    got = refusals[case]
    lines = got["stderr"].strip().splitlines()
    assert got["rc"] == 2, got
    assert len(lines) == 1 and lines[0].startswith("vam-gui: error: "), lines
    assert "Traceback" not in got["stderr"]
    assert not (corpus[0] / "pwned").exists()


def test_refusing_the_whole_corpus_stays_small(refusals):
    """Peak memory of the interpreter that refused all of them (torch and the model code
    imported): no config made it allocate its network."""
    assert refusals["maxrss"] < MAX_RSS_BYTES, f"peak RSS {refusals['maxrss'] / 2**20:.0f} MB"
