"""``bench``: speed figures of every room on this machine (model, store, readers, export, window)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from vam_gui.cli.common import CliError


def _cmd_bench(args: argparse.Namespace) -> int:
    import tempfile

    from vam_gui.model.predictor import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.scale is not None and args.scale < 1:
        raise CliError(f"--scale must be at least 1 image, got {args.scale}")
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        steps = _scale_steps(args, tmp) if args.scale else _steps(device, args, tmp)
        results = _run_steps(steps)
    if args.json:
        print(json.dumps(results))
    else:
        width = max(len(k) for k in results)
        for key, value in results.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    return 0


def _steps(device, args: argparse.Namespace, tmp: str) -> list[tuple[str, Callable[[], dict]]]:
    import torch

    from vam_gui.io.bench import bench_dicom_load
    from vam_gui.io.export.bench import bench_export
    from vam_gui.io.study import bench_edit_latency
    from vam_gui.model.bench import model_bench_steps

    quick = args.quick
    steps: list[tuple[str, Callable[[], dict]]] = [
        ("device", lambda: {"device": str(device), "torch_threads": torch.get_num_threads()}),
        *model_bench_steps(device, quick=quick),
        ("one committed edit, fresh and at 300k log rows",
         lambda: bench_edit_latency(tmp, repeats=50 if quick else 200)),
        ("DICOM load against bare pydicom",
         lambda: bench_dicom_load(tmp, side=512 if quick else 2000, repeats=3 if quick else 7)),
        ("dataset export", lambda: bench_export(tmp, n=4 if quick else 12, side=512 if quick else 2000)),
    ]
    if not args.no_gui:
        from vam_gui.gui.bench import gui_bench_steps

        steps += gui_bench_steps(quick=quick)
    return steps


def _scale_steps(args: argparse.Namespace, tmp: str) -> list[tuple[str, Callable[[], dict]]]:
    """The figures of a study of ``args.scale`` images (256-px PNGs, every one predicted):
    built first, in ``tmp``, then measured by each room's steps, which take its path."""
    from pathlib import Path

    from vam_gui.io.bench import (
        bench_export_json,
        bench_export_pseudonymised,
        bench_study_create,
        bench_study_queries,
        build_scale_study,
    )

    n, folder = args.scale, Path(tmp) / "scale"
    study = folder / "scale.vamstudy"
    repeats = 1 if args.quick else 3  # medians of three alternated rounds: one round is the disk's mood

    def build() -> dict:
        built = build_scale_study(folder, n)
        assert built == study
        return {"scale_images": n}

    steps: list[tuple[str, Callable[[], dict]]] = [
        (f"build a study of {n} predicted images", build),
        ("study create against bare SQLite inserts with hashing",
         lambda: bench_study_create(Path(tmp), sorted((folder / "images").glob("*.png")), repeats=repeats)),
        ("export --format json --all --keep-names against a bare JSON dump",
         lambda: bench_export_json(study, Path(tmp), repeats=repeats)),
        ("export --format json --all (pseudonyms, image copies) against the bare dump plus copying the images",
         lambda: bench_export_pseudonymised(study, Path(tmp), repeats=repeats)),
        ("sort by uncertainty and flag counts, against the bare queries",
         lambda: bench_study_queries(study, repeats=5 if args.quick else 20)),
    ]
    if not args.no_gui:
        from vam_gui.gui.bench_scale import gui_scale_steps

        steps += gui_scale_steps(study, quick=args.quick)  # window ready, memory, image switch, sort
    return steps


def _run_steps(steps: list[tuple[str, Callable[[], dict]]]) -> dict:
    """Run each step, saying on stderr which one runs and how long it took."""
    import sys
    import time

    results: dict = {}
    for n, (what, run) in enumerate(steps, 1):
        print(f"bench {n}/{len(steps)}: {what}…", end="", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results.update(run())
        print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return results


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure speed on this machine",
                       description="Measure target generation, DARK decoding and model forward speed.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer repeats and S=256 forward (for smoke tests)")
    p.add_argument("--no-gui", action="store_true", help="skip the window benchmarks")
    p.add_argument("--scale", type=int, metavar="N",
                   help="instead: build a study of N predicted 256-px images in a temporary folder and measure "
                        "study create, export --all (original names; pseudonyms with image copies), sort by "
                        "uncertainty and flag counts on it (each with its bare baseline and ratio)")
    p.set_defaults(func=_cmd_bench)
