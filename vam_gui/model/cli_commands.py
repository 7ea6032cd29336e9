"""Implementations of ``vam-gui synth``, ``train`` and ``evaluate`` (their parsers live in vam_gui/cli/training.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The input of a new run on a folder with labels.json when --size is not given.
DEFAULT_TRAIN_SIZE = 256


def parse_size(text: str) -> int | list[int]:
    """"256" -> 256, "384x160" -> [384, 160] (H x W, multiples of 32)."""
    parts = text.lower().replace(" ", "").split("x")
    try:
        values = [int(v) for v in parts]
    except ValueError:
        raise ValueError(f"--size must be S or HxW (e.g. 256 or 384x160), got {text!r}") from None
    if len(values) not in (1, 2) or min(values) < 64 or any(v % 32 for v in values):
        raise ValueError(f"--size must be S or HxW, multiples of 32 from 64, got {text!r}")
    return values[0] if len(values) == 1 or values[0] == values[1] else values


def resolve_dataset(path: str | Path, *, size: int = 256, sigma: float = 2.0, targets: bool = True) -> Path:
    """A dataset folder (manifest.json), a synth folder holding one (dataset/), or a folder of
    images with our labels.json (converted once into <folder>/dataset-S<size>; without
    ``targets`` no npz files, which training regenerates anyway)."""
    from vam_gui.io.dataset import DatasetError, DatasetSource, write_dataset

    p = Path(path)
    for candidate in (p, p / "dataset", p / f"dataset-S{size}"):
        if (candidate / "manifest.json").is_file():
            return candidate
    labels_path = p / "labels.json"
    if not labels_path.is_file():
        raise DatasetError(f"{p}: neither a dataset (manifest.json) nor a folder with labels.json")
    from vam_gui.io import load_radiograph
    from vam_gui.io.labels_file import read_labels_file

    labels = read_labels_file(labels_path)  # every value checked before any image is loaded
    paths = [labels.image_path(e) for e in labels.entries]

    def sources():
        for entry, image in zip(labels.entries, paths):
            rad = load_radiograph(image)
            yield DatasetSource(entry.id or str(entry.file), rad.pixels, entry.xy, entry.visible, rad.spacing,
                                entry.sources)

    out = p / f"dataset-S{size}"
    write_dataset(sources(), out, labels.schema, size=size, sigma=sigma, total=len(labels.entries), workers=2,
                  targets=targets)
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


def read_provenance(path: str) -> dict:
    """The --provenance file: one JSON object (read before training, so a bad file fails at once)."""
    value = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"--provenance {path}: expected a JSON object")
    return value


def cmd_train(args) -> int:
    import torch
    from tqdm import tqdm

    from vam_gui.model.train import TrainOptions, train

    if args.threads:
        torch.set_num_threads(args.threads)
    size = parse_size(args.size) if args.size else None
    # Crops for the second pass are cut from the stored image: store films larger than the input.
    dataset = resolve_dataset(args.dataset, size=args.store_size, targets=False)
    model = {}
    for key in ("backbone", "d_model", "bridge_layers", "vam_layers", "pretrained"):
        if getattr(args, key) is not None:
            model[key] = getattr(args, key)
    converted = dataset == Path(args.dataset) / f"dataset-S{args.store_size}"
    if size is None and converted and not args.init:
        # A converted labels folder is stored large for the crops; the network's input stays
        # at the default (a new run would otherwise take the stored S, 1024, as its input).
        size = DEFAULT_TRAIN_SIZE
    if size:
        model["input_size"] = size
    if args.decoder_channels:
        model["decoder_channels"] = [int(v) for v in args.decoder_channels.split(",")]
    epochs = args.epochs if args.epochs is not None else (1_000_000 if args.max_minutes else 30)
    opts = TrainOptions(dataset=str(dataset), out=args.out, epochs=epochs, batch_size=args.batch_size,
                        lr=args.lr, device=args.device, workers=args.workers, seed=args.seed, init=args.init,
                        resume=args.resume, max_steps=args.max_steps, max_minutes=args.max_minutes,
                        half_checkpoints=args.half, val_fraction=args.val_fraction, model=model,
                        augment_strength=args.augment_strength, crop_p=args.crop_share,
                        provenance=read_provenance(args.provenance) if args.provenance else None)
    bar = tqdm(unit="step", desc="train", disable=args.quiet)

    def progress(info: dict) -> None:
        bar.total = info["total_steps"]
        bar.update(info["step"] - bar.n)
        bar.set_postfix(epoch=info["epoch"], loss=f"{info['loss']:.4g}", sigma=f"{info['sigma']:.2f}")

    summary = train(opts, progress=progress)
    bar.close()
    print(json.dumps(summary), file=sys.stderr)
    if summary.get("interrupted"):
        print(f"vam-gui: interrupted; the run is saved in {args.out} (continue with --resume)", file=sys.stderr)
        return 130
    return 0


def cmd_evaluate(args) -> int:
    from tqdm import tqdm

    from vam_gui.core.metrics import parse_sdr
    from vam_gui.model.evaluate import evaluate, format_table

    sdr = parse_sdr(args.sdr) if args.sdr else None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with tqdm(unit="img", desc="evaluate", disable=args.json or args.quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = evaluate(args.checkpoint, args.dataset, schema=args.schema, refine=not args.no_refine,
                          device=args.device, sdr=sdr, all_images=args.all, progress=progress)
    print(json.dumps(result) if args.json else format_table(result))
    return 0
