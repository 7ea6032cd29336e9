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
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        results = _run_steps(_steps(device, args, tmp))
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
    p.set_defaults(func=_cmd_bench)
