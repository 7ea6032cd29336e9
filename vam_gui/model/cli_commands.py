"""Implementations of ``vam-gui synth``, ``train`` and ``evaluate`` (parsers live in cli.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def resolve_dataset(path: str | Path, *, size: int = 256, sigma: float = 2.0) -> Path:
    """A dataset folder (manifest.json), a synth folder holding one (dataset/), or a folder of
    images with our labels.json (converted once into <folder>/dataset-S<size>)."""
    from vam_gui.io.dataset import DatasetError, DatasetSource, write_dataset

    p = Path(path)
    for candidate in (p, p / "dataset", p / f"dataset-S{size}"):
        if (candidate / "manifest.json").is_file():
            return candidate
    labels = p / "labels.json"
    if not labels.is_file():
        raise DatasetError(f"{p}: neither a dataset (manifest.json) nor a folder with labels.json")
    from vam_gui.core.schema import Schema
    from vam_gui.io import load_radiograph

    doc = json.loads(labels.read_text(encoding="utf-8"))
    schema = Schema.from_dict(doc["schema"], source=str(labels))

    def sources():
        import numpy as np

        for entry in doc["images"]:
            rad = load_radiograph(p / entry["file"])
            kps = entry["keypoints"]
            xy = np.array([[np.nan if k["x"] is None else k["x"], np.nan if k["y"] is None else k["y"]] for k in kps])
            yield DatasetSource(entry["id"], rad.pixels, xy, np.array([k["visible"] for k in kps]),
                                rad.spacing, [k.get("source", "") for k in kps])

    out = p / f"dataset-S{size}"
    write_dataset(sources(), out, schema, size=size, sigma=sigma, total=len(doc["images"]), workers=2)
    return out


def cmd_synth(args) -> int:
    from tqdm import tqdm

    from vam_gui.io.synth import synthesize

    with tqdm(total=args.n, unit="img", desc="synth", disable=args.quiet) as bar:
        written = synthesize(args.out, args.n, schema=args.schema, seed=args.seed, dicom=args.dicom,
                             difficulty=args.difficulty, images=not args.no_images, study=args.study,
                             dataset_size=args.dataset_size, progress=lambda d, t: bar.update(d - bar.n))
    for kind, path in written.items():
        print(f"{kind}: {path}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    import torch
    from tqdm import tqdm

    from vam_gui.model.train import TrainOptions, train

    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = resolve_dataset(args.dataset, size=args.size or 256)
    model = {}
    for key in ("backbone", "d_model", "bridge_layers", "vam_layers"):
        if getattr(args, key) is not None:
            model[key] = getattr(args, key)
    if args.size:
        model["input_size"] = args.size
    if args.decoder_channels:
        model["decoder_channels"] = [int(v) for v in args.decoder_channels.split(",")]
    opts = TrainOptions(dataset=str(dataset), out=args.out, epochs=args.epochs, batch_size=args.batch_size,
                        lr=args.lr, device=args.device, workers=args.workers, seed=args.seed, init=args.init,
                        resume=args.resume, max_steps=args.max_steps, max_minutes=args.max_minutes,
                        half_checkpoints=args.half, val_fraction=args.val_fraction, model=model)
    bar = tqdm(unit="step", desc="train", disable=args.quiet)

    def progress(info: dict) -> None:
        bar.total = info["total_steps"]
        bar.update(info["step"] - bar.n)
        bar.set_postfix(epoch=info["epoch"], loss=f"{info['loss']:.4g}", sigma=f"{info['sigma']:.2f}")

    summary = train(opts, progress=progress)
    bar.close()
    print(json.dumps(summary), file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from vam_gui.model.evaluate import evaluate, format_table

    dataset = resolve_dataset(args.dataset)
    result = evaluate(args.checkpoint, dataset, split=args.split, device=args.device,
                      val_fraction=args.val_fraction)
    print(json.dumps(result) if args.json else format_table(result))
    return 0
