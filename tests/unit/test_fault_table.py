"""Every CLI subcommand that takes a study, against every fault a study file meets: a full disk,
a read-only file or folder, another writer, a damaged or cut-short file, no file at all; and
for the commands that print their result, stdout redirected to a full disk (/dev/full).

Each cell runs the real command in a subprocess. A command that only reads (``study info``,
``export``, ``evaluate``, ``agreement``) succeeds on a read-only or locked study; every other cell exits
non-zero with exactly one line on stderr and no traceback, and leaves the study as it was:
byte-identical, or, where a full disk stopped a writing command partway, holding only whole
writes and passing ``check_integrity()``.

Run with ``-s`` to see the table (command x fault -> exit code, stderr line).
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE, SIGXFSZ and chmod are POSIX")

# Root writes whatever the permission bits say, so os.access (what the study uses to decide that
# it cannot write) says yes to a chmod-ed file. As in test_study_faults, the child is told what
# a read-only place looks like; SQLite itself would still write as root, so a command that
# ignored "read-only" would change the file and fail the byte-identical check.
AS_USER = """
import runpy, sys
from vam_gui.io import study_connect

real = study_connect.why_read_only


def why_read_only(path):
    if not path.stat().st_mode & 0o222:
        return "the study file is read-only"
    if not path.resolve().parent.stat().st_mode & 0o222:
        return "its folder is read-only (no room for SQLite's -wal and -shm files)"
    return real(path)


study_connect.why_read_only = why_read_only
sys.argv[0] = "vam-gui"
runpy.run_module("vam_gui", run_name="__main__")
"""

HOLD = ("import sys; from vam_gui.io import Study; s = Study.open(sys.argv[1]); "
        "print('holding', s.read_only, flush=True); sys.stdin.read(); s.close()")

# RLIMIT_FSIZE per cell. 2 KB: SQLite cannot even size its 32 KB -shm, so a writing open fails;
# an export's first file does not fit. 33000 bytes: the -shm fits and the -wal has room for
# about eight pages: a writing command opens and takes its lock, then runs out partway.
TINY_LIMIT = 2048
WAL_LIMIT = 33000
# study add writes its images 64 per transaction: these many do not fit in WAL_LIMIT's -wal
MORE_IMAGES = 200

S = "{study}"
COMMANDS = {  # name -> (argv with {study}/{ckpt}/{out}/{more}/{labels}, writes the study)
    "study info": (["study", "info", S], False),
    "study add": (["study", "add", "-q", S, "{more}"], True),
    "study predict": (["study", "predict", "-q", "-c", "{ckpt}", "--device", "cpu", S], True),
    "import": (["import", "-q", "-f", "json", "--user", "importer", S, "{labels}"], True),
    "export json": (["export", "-q", "-f", "json", "-o", "{out}", S], False),
    "export coco": (["export", "-q", "-f", "coco", "-o", "{out}", S], False),
    "export csv": (["export", "-q", "-f", "csv", "-o", "{out}", S], False),
    "export dataset": (["export", "-q", "-f", "dataset", "--size", "64", "-o", "{out}", S], False),
    "evaluate": (["evaluate", "-q", "-c", "{ckpt}", "--device", "cpu", "--threads", "1", S], False),
    "agreement": (["agreement", "--json", S], False),
}
FAULTS = ["disk full", "disk full at open", "read-only file", "read-only folder", "locked",
          "garbage bytes", "truncated", "missing"]
PRINTS = ("study info", "evaluate", "agreement")  # the commands that write their result to stdout
CELLS = [pytest.param(c, f, id=f"{c}-{f}".replace(" ", "_")) for c in COMMANDS for f in FAULTS
         if f != "disk full at open" or COMMANDS[c][1]]  # a reader's "disk full" is already 2 KB
CELLS += [pytest.param(c, "stdout on a full disk", id=f"{c}-stdout_on_a_full_disk")
          for c in PRINTS]

RESULTS: dict[tuple[str, str], tuple[int, str]] = {}


def _succeeds(command: str, fault: str) -> bool:
    """Cells that must exit 0: a reader on a read-only or locked study, and a command that
    writes nothing (info, evaluate) under a file size limit."""
    writes = COMMANDS[command][1]
    if fault in ("read-only file", "read-only folder", "locked"):
        return not writes
    return fault.startswith("disk full") and command in PRINTS


def _radiograph(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(8000, 500, size=(64, 48))
    for v in range(5):
        img[4 + 12 * v:12 + 12 * v, 12:36] += 20000
    return np.clip(img, 0, 65535).astype(np.uint16)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A labelled, accepted study of three 64x48 images (so export and evaluate have work),
    more images to add (enough that even one batched transaction of them outgrows the
    WAL_LIMIT cell's room), a label file to import, a tiny checkpoint."""
    import torch

    from vam_gui.core.annotation import PointState, ReviewState
    from vam_gui.io import Study
    from vam_gui.io.export import ExportOptions, export_study
    from vam_gui.model import build_model, save_checkpoint
    from vam_testing import tiny_config

    root = tmp_path_factory.mktemp("fault_table")
    tree = root / "tree"
    for folder in ("images", "more", "studies", "labels"):
        (tree / folder).mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(tree / "images" / f"spine{i}.png"), _radiograph(i))
    for i in range(MORE_IMAGES):
        cv2.imwrite(str(tree / "more" / f"extra{i}.png"), _radiograph(100 + i))
    with Study.create(tree / "studies" / "s.vamstudy") as study:
        study.add_images([tree / "images"])
        for n, image in enumerate(study.image_ids()):
            study.apply_edit(image, user="setup", kind="place", review=ReviewState("accepted"), points={
                i: PointState(10.0 + 6 * (i % 4) + n, 4.0 + 11 * (i // 4), True, "placed")
                for i in range(study.schema.k)})
            for reader, dx in (("alice", 0.5), ("bob", -0.5)):  # two readers, for agreement
                study.apply_edit(image, user=reader, kind="import", reader=reader,
                                 review=ReviewState("accepted"), points={
                                     i: PointState(10.0 + 6 * (i % 4) + n + dx, 4.0 + 11 * (i // 4), True, "placed")
                                     for i in range(study.schema.k)})
        export_study(study, "json", tree / "labels", ExportOptions(keep_names=True))
    (labels,) = (tree / "labels").iterdir()
    torch.manual_seed(0)
    config = tiny_config()
    ckpt = save_checkpoint(root / "tiny.safetensors", build_model(config), config)
    yield {"tree": tree, "labels": labels.relative_to(tree), "ckpt": Path(ckpt)}
    if RESULTS:
        width = max(len(f"{c} / {f}") for c, f in RESULTS)
        print("\n\nfault table (command / fault -> exit code: stderr)")
        for (command, fault), (rc, line) in RESULTS.items():
            print(f"  {command + ' / ' + fault:<{width}}  {rc:>3}: {line}")


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name + "-"))


def _contents(path: Path) -> dict[str, list[tuple]]:
    """Every table but the lock row, read without leaving anything beside the file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables if t != "writer"}
    finally:
        conn.close()


def _limit(nbytes: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), not kills
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, resource.RLIM_INFINITY))
    return preexec


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_CACHE_HOME": str(home / ".cache"),
            "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore::DeprecationWarning",
            # Under the cell's file-size limit CPython would cut a module's bytecode cache at the
            # limit (it does not check short writes) and every later import of it would fail:
            # the fault is the study's, not the interpreter's cache
            "PYTHONDONTWRITEBYTECODE": "1"}


def _check_added(path: Path, before: dict, line: str) -> None:
    """A full disk stopped ``study add`` partway: the images it says it added are there, whole."""
    from vam_gui.io import Study

    match = re.search(r"\((\d+) added before it are kept\)", line)
    assert match, line
    after = _contents(path)
    assert len(after["images"]) == len(before["images"]) + int(match.group(1))
    assert after["images"][:len(before["images"])] == before["images"]
    with Study.open(path, read_only=True) as study:
        for image in study.image_ids():
            assert study.annotation(image) is not None  # each added image has its K point rows


def _check_predicted(path: Path, before: dict) -> None:
    """A full disk stopped ``study predict`` partway: each image has a whole prediction or none."""
    from vam_gui.io import Study

    after = _contents(path)
    # the images' own rows are as before but for their figures (flags, worst confidence,
    # widest spread: the last three columns), which a prediction writes with itself
    assert [r[:-3] for r in after["images"]] == [r[:-3] for r in before["images"]]
    assert after["edits"] == before["edits"]
    with Study.open(path, read_only=True) as study:
        for info in study.list_images():
            pred = study.prediction(info.image_id)
            assert (pred is None) == (study.heatmaps(info.image_id) is None)
            assert (pred is None) == (info.worst_confidence is None)


@pytest.mark.parametrize(("command", "fault"), CELLS)
def test_fault_cell(assets, tmp_path, command, fault):
    from vam_gui.io import Study

    work = tmp_path / "w"
    shutil.copytree(assets["tree"], work)
    study = work / "studies" / "s.vamstudy"
    out = tmp_path / "out"
    argv_t, writes = COMMANDS[command]
    argv = [a.format(study=study, ckpt=assets["ckpt"], out=out, more=work / "more",
                     labels=work / assets["labels"]) for a in argv_t]

    if fault == "garbage bytes":
        study.write_bytes(np.random.default_rng(7).integers(0, 256, 16384, np.uint8).tobytes())
    elif fault == "truncated":
        data = study.read_bytes()
        study.write_bytes(data[:len(data) // 2])
    elif fault == "missing":
        study.unlink()
    before_sha = _sha(study)
    before = _contents(study) if fault not in ("garbage bytes", "truncated", "missing") else None

    cmd = [sys.executable, "-m", "vam_gui", *argv]
    preexec = None
    holder = None
    if fault == "disk full":
        preexec = _limit(WAL_LIMIT if writes else TINY_LIMIT)
    elif fault == "disk full at open":
        preexec = _limit(TINY_LIMIT)
    elif fault == "read-only file":
        study.chmod(0o444)
    elif fault == "read-only folder":
        study.parent.chmod(0o555)
    elif fault == "locked":
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(study)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=_env(tmp_path))
        assert holder.stdout.readline().strip() == "holding False"
        held = (_sha(study), _sha(study.with_name(study.name + "-wal")))
    if fault.startswith("read-only") and os.geteuid() == 0:
        cmd = [sys.executable, "-c", AS_USER, *argv]
    try:
        if fault == "stdout on a full disk":  # `vam-gui study info s.vamstudy > file` on a full disk
            if not Path("/dev/full").exists():
                pytest.skip("no /dev/full")
            with open("/dev/full", "w") as full:
                proc = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                                      timeout=300)
            proc.stdout = ""
        else:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(tmp_path), preexec_fn=preexec,
                                  timeout=300)
        if holder is not None:  # nothing reached the study or the writer's -wal while it held them
            assert (_sha(study), _sha(study.with_name(study.name + "-wal"))) == held
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.wait(timeout=60)
        study.parent.chmod(0o755)
        if study.exists():
            study.chmod(0o644)

    lines = proc.stderr.splitlines()
    RESULTS[(command, fault)] = (proc.returncode, " | ".join(lines) if lines else "(empty)")
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    if _succeeds(command, fault):
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0, proc.stderr
        assert len(lines) == 1, proc.stderr

    if before is None:  # a file that is no study, or none: left as it was, nothing beside it
        assert _sha(study) == before_sha and _side_files(study) == []
        return
    if not (fault.startswith("disk full") and writes):
        assert _sha(study) == before_sha and _side_files(study) == []
        return
    # A writing command under a full disk: a later open takes its lock (the row stays when
    # even giving it back did not fit), the file is whole and holds only whole writes.
    with Study.open(study) as reopened:
        assert not reopened.read_only and reopened.check_integrity() == []
    assert _side_files(study) == []
    after = _contents(study)
    if after == before:  # it failed before writing anything: not one byte differs
        assert _sha(study) == before_sha
    elif command == "study add":
        _check_added(study, before, lines[0])
    elif command == "study predict":
        _check_predicted(study, before)
    else:
        pytest.fail(f"{command} changed the study although it failed: {lines}")
