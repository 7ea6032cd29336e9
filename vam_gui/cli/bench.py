"""``bench``: speed figures of every room on this machine (model, store, readers, export, window)."""

from __future__ import annotations

import argparse
import json

from vam_gui.cli.common import CliError


def _cmd_bench(args: argparse.Namespace) -> int:
    from vam_gui.model.bench import run_model_benchmarks
    from vam_gui.model.predictor import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    import tempfile

    from vam_gui.io.bench import bench_dicom_load
    from vam_gui.io.export.bench import bench_export
    from vam_gui.io.study import bench_edit_latency

    results = run_model_benchmarks(device, quick=args.quick)
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        results.update(bench_edit_latency(tmp, repeats=50 if args.quick else 200))
        results.update(bench_dicom_load(tmp, side=512 if args.quick else 2000, repeats=3 if args.quick else 7))
        results.update(bench_export(tmp, n=4 if args.quick else 12, side=512 if args.quick else 2000))
    if not args.no_gui:
        from vam_gui.gui.bench import run_gui_benchmarks

        results.update(run_gui_benchmarks(quick=args.quick))
    if args.json:
        print(json.dumps(results))
    else:
        width = max(len(k) for k in results)
        for key, value in results.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    return 0


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure speed on this machine",
                       description="Measure target generation, DARK decoding and model forward speed.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer repeats and S=256 forward (for smoke tests)")
    p.add_argument("--no-gui", action="store_true", help="skip the window benchmarks")
    p.set_defaults(func=_cmd_bench)
