"""Training and fine-tuning from a dataset folder (``vam-gui train``).

Recipe (what helps heatmap regression from scratch): AdamW with a linear warm-up then cosine
decay, foreground-weighted MSE, a wider target sigma early that narrows to the model's
sigma, gradient clipping, AMP on CUDA, DARK decoding for validation with mean and median
radial error. Several GPUs or machines: launch the same command with ``torchrun``; the
process group, DistributedSampler and DDP are set up from torchrun's environment.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from vam_gui.model.augment import Augment, Views
from vam_gui.model.checkpoint import load_checkpoint, read_config, save_checkpoint
from vam_gui.model.config import ModelConfig
from vam_gui.model.dark import dark_decode
from vam_gui.model.dataset import VamDataset, collate
from vam_gui.model.loss import heatmap_loss
from vam_gui.model.network import build_model
from vam_gui.model.predictor import resolve_device
from vam_gui.model.targets import gaussian_heatmaps


@dataclass
class TrainOptions:
    dataset: str
    out: str
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    sigma_start: float = 4.0  # target sigma at the first step, narrowing to the model's sigma
    sigma_epochs: float = 0.5  # fraction of the epochs over which sigma narrows
    foreground_weight: float = 10.0
    grad_clip: float = 1.0
    val_fraction: float = 0.1
    device: str = "auto"
    amp: bool = True  # on CUDA only
    workers: int = 0
    seed: int = 0
    init: str | None = None  # fine-tune from this checkpoint (resized to ``model``'s size/schema if they differ)
    augment_strength: float = 1.0  # appearance augmentation (0 = off, 2 = strong)
    crop_p: float = 0.65  # share of samples cut around a run of vertebrae (the second pass's view)
    resume: bool = False
    max_steps: int | None = None  # stop early (smoke runs, time-boxed runs)
    max_minutes: float | None = None
    half_checkpoints: bool = False
    model: dict = field(default_factory=dict)  # ModelConfig fields (backbone, input_size, ...)
    provenance: dict | None = None  # what the data is (study, images, reviewers): in every checkpoint saved


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def _lr_factor(step: int, progress: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay over ``progress`` in [0, 1]."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def _progress(step: int, total: int, minutes: float, opts: TrainOptions) -> float:
    """How far through the run: by steps, or by the time budget when that ends first, so a
    --max-minutes run still anneals its learning rate to zero at the deadline."""
    frac = step / max(1, total)
    if opts.max_minutes:
        frac = max(frac, minutes / opts.max_minutes)
    return min(1.0, frac)


def _sigma_at(progress: float, opts: TrainOptions, final: float) -> float:
    span = max(1e-9, opts.sigma_epochs)
    if progress >= span or opts.sigma_start <= final:
        return final
    return opts.sigma_start + (final - opts.sigma_start) * progress / span


class _StopSignals:
    """SIGTERM (a cluster's time limit, ``kill``) and Ctrl-C end training after the current
    step: the run is saved (last.safetensors, train_state.pt) and can be resumed."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict = {}

    def __enter__(self) -> _StopSignals:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        if self.signal is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc) -> None:
        import signal

        for sig, old in self._old.items():
            signal.signal(sig, old)


def _manifest_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()[:16]


@torch.no_grad()
def radial_errors(model: torch.nn.Module, loader: DataLoader, device: torch.device, sigma: float,
                  autocast=None) -> tuple[np.ndarray, np.ndarray, float]:
    """(errors [N, K] in model px with NaN for missing points, mm per px [N], mean val loss)."""
    model.eval()
    errors, mm, losses = [], [], []
    for batch in loader:
        images = batch["image"].to(device)
        with autocast() if autocast else torch.autocast("cpu", enabled=False):
            heat = model(images).float()
        xy = batch["xy"].to(device)
        visible = batch["visible"].to(device)
        targets = gaussian_heatmaps(xy, tuple(heat.shape[-2:]), sigma=sigma, visible=visible)
        losses.append(float(heatmap_loss(heat, targets, visible)))
        pred, _, _ = dark_decode(heat, sigma=sigma)
        err = (pred - xy).norm(dim=-1)
        errors.append(torch.where(visible, err, torch.full_like(err, float("nan"))).cpu().numpy())
        mm.append(batch["mm_per_px"].numpy())
    model.train()
    return np.concatenate(errors), np.concatenate(mm), float(np.mean(losses)) if losses else float("nan")


def _plot(metrics_csv: Path, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(metrics_csv.open()))
    if not rows:
        return
    ep = [int(r["epoch"]) for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(ep, [float(r["train_loss"]) for r in rows], label="train")
    a.plot(ep, [float(r["val_loss"]) for r in rows], label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("heatmap loss")
    a.set_yscale("log")
    a.legend()
    b.plot(ep, [float(r["val_mre_model_px"]) for r in rows], label="mean")
    b.plot(ep, [float(r["val_median_model_px"]) for r in rows], label="median")
    b.set_xlabel("epoch")
    b.set_ylabel("radial error (model px)")
    b.legend()
    fig.tight_layout()
    tmp = out_png.with_name(f".{out_png.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out_png)


def _build(opts: TrainOptions, dataset_dir: Path, last_path: Path, state_path: Path):
    """(model, config, saved state) for a new, resumed or fine-tuned run. ``--init`` with
    another size or schema (``opts.model``) builds that network and carries over the weights
    that fit (``model.transfer``) instead of keeping the checkpoint's size."""
    if opts.resume and last_path.is_file():
        model, config = load_checkpoint(last_path)
        state = torch.load(state_path, map_location="cpu", weights_only=True) if state_path.is_file() else {}
        return model, config, state
    probe = VamDataset(dataset_dir, with_targets=False)
    data_fields = {"schema": probe.schema.name, "schema_def": probe.schema.to_dict()}
    if opts.init:
        model, config = load_checkpoint(opts.init)
        wanted = {**config.to_dict(), **data_fields, **opts.model, "training": dict(config.training)}
        new_config = ModelConfig.from_dict(wanted)
        if new_config.to_json() == config.to_json():
            return model, config, {}
        from vam_gui.model.transfer import transfer_state

        fresh = build_model(ModelConfig.from_dict({**new_config.to_dict(), "pretrained": None}))
        state, _counts = transfer_state(model.state_dict(), config, fresh.state_dict(), new_config)
        fresh.load_state_dict(state)
        new_config.training["init"] = {"from": str(opts.init), "transfer": _counts}
        return fresh, new_config, {}
    config = ModelConfig(**{**data_fields, "backbone": "mobilenet_v3_large", "input_size": probe.size,
                            **opts.model})
    return build_model(config), config, {}


def _init_process(opts: TrainOptions) -> tuple[int, bool, torch.device]:
    """(rank, distributed, device): the process group from torchrun's environment, if any."""
    rank, local_rank, world = _dist_info()
    distributed = world > 1
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() and opts.device != "cpu" else "gloo")
    device = resolve_device(opts.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return rank, distributed, device


def _datasets(opts: TrainOptions, dataset_dir: Path, config: ModelConfig, distributed: bool):
    """(train set, validation set, sampler or None, train loader, validation loader)."""
    size = config.input_hw
    schema = config.get_schema()
    augment = Augment(schema, size, strength=opts.augment_strength)
    views = Views(schema, size, crop_p=opts.crop_p)
    recipe = config.preprocessing  # the model's own (a checkpoint's, when fine-tuning), as inference reads it
    train_ds = VamDataset(dataset_dir, split="train", val_fraction=opts.val_fraction, with_targets=False,
                          augment=augment, views=views, seed=opts.seed, size=size, preprocessing=recipe)
    val_ds = VamDataset(dataset_dir, split="val", val_fraction=opts.val_fraction, with_targets=False, size=size,
                        preprocessing=recipe)
    if train_ds.schema.keypoints != schema.keypoints:
        raise ValueError(f"dataset schema {train_ds.schema.name!r} differs from the model's {config.schema!r}")
    if len(train_ds) == 0:
        raise ValueError(f"{dataset_dir}: no training items")
    sampler = torch.utils.data.DistributedSampler(train_ds, shuffle=True, seed=opts.seed) if distributed else None
    loader = DataLoader(train_ds, batch_size=opts.batch_size, shuffle=sampler is None, sampler=sampler,
                        num_workers=opts.workers, collate_fn=collate, drop_last=len(train_ds) > opts.batch_size,
                        persistent_workers=opts.workers > 0)
    val_loader = DataLoader(val_ds, batch_size=opts.batch_size, collate_fn=collate, num_workers=0)
    return train_ds, val_ds, sampler, loader, val_loader


class _Run:
    """One process's share of a training run: the network, optimiser and mixed precision, the
    step and time counters (carried over on --resume), one optimisation step, and what rank 0
    does at each epoch's end (validation, metrics row, checkpoints, resumable state, plot)."""

    def __init__(self, opts: TrainOptions, model: torch.nn.Module, config: ModelConfig, state: dict, *,
                 device: torch.device, out: Path, distributed: bool, steps_per_epoch: int) -> None:
        self.opts, self.model, self.config, self.device, self.out = opts, model, config, device, out
        self.size = config.input_hw
        self.state_path, self.last_path = out / "train_state.pt", out / "last.safetensors"
        self.best_path, self.metrics_csv = out / "best.safetensors", out / "metrics.csv"
        self.net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None) if distributed else model
        self.optim = torch.optim.AdamW(self.net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
        self.total_steps = opts.epochs * steps_per_epoch
        if opts.max_steps:
            self.total_steps = min(self.total_steps, opts.max_steps)
        self.start_epoch, self.best_mre, self.step, self.minutes_before = 0, math.inf, 0, 0.0
        if state:
            self.optim.load_state_dict(state["optimizer"])
            self.start_epoch, self.best_mre = int(state["epoch"]) + 1, float(state["best_mre"])
            self.step, self.minutes_before = int(state["step"]), float(state.get("minutes", 0.0))
        use_amp = opts.amp and device.type == "cuda"
        amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
        self.autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype)) if use_amp else None
        self.t_start = time.time()

    def begin(self, rank: int, dataset_dir: Path) -> None:
        """The metrics header (kept on --resume) and the run's provenance in the config; the clock starts."""
        opts = self.opts
        if rank == 0 and not (opts.resume and self.metrics_csv.is_file()):
            self.metrics_csv.write_text(
                "epoch,step,train_loss,val_loss,val_mre_model_px,val_median_model_px,lr,seconds\n")
        self.config.training = {**self.config.training, "dataset": str(dataset_dir),
                                "dataset_manifest": _manifest_digest(dataset_dir),
                                "options": {k: v for k, v in asdict(opts).items()
                                            if k not in ("dataset", "out", "provenance")}}
        if opts.provenance is not None:  # from the first save on, so a killed run's checkpoints carry it
            self.config.training["provenance"] = opts.provenance
        self.t_start = time.time()

    def minutes(self) -> float:
        return self.minutes_before + (time.time() - self.t_start) / 60

    def train_step(self, batch: dict) -> tuple[float, float, float]:
        """One optimisation step at this point's sigma and learning rate: (loss, sigma, lr)."""
        opts = self.opts
        frac = _progress(self.step, self.total_steps, self.minutes(), opts)
        sigma = _sigma_at(frac, opts, self.config.sigma)
        lr = opts.lr * _lr_factor(self.step, frac, opts.warmup_steps)
        for group in self.optim.param_groups:
            group["lr"] = lr
        images = batch["image"].to(self.device, non_blocking=True)
        xy, visible = batch["xy"].to(self.device), batch["visible"].to(self.device)
        targets = gaussian_heatmaps(xy, self.size, sigma=sigma, visible=visible)
        with self.autocast() if self.autocast else torch.autocast("cpu", enabled=False):
            heat = self.net(images)
        loss = heatmap_loss(heat.float(), targets, visible, foreground_weight=opts.foreground_weight)
        self.optim.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optim)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), opts.grad_clip)
        self.scaler.step(self.optim)
        self.scaler.update()
        self.step += 1
        return loss.item(), sigma, lr

    def end_epoch(self, epoch: int, losses: list[float], lr: float, val_loader: DataLoader, *,
                  validate: bool, interrupted: bool) -> None:
        """Rank 0: validate, append the metrics row, save last (and best), the resumable state, the plot."""
        config, opts = self.config, self.opts
        errors, _, val_loss = radial_errors(self.model, val_loader, self.device, config.sigma, self.autocast) \
            if validate else (np.full((1, 1), np.nan), None, float("nan"))
        finite = errors[np.isfinite(errors)]  # no validation items: NaN, and no "best"
        mre, med = (float(finite.mean()), float(np.median(finite))) if finite.size else (math.nan, math.nan)
        with self.metrics_csv.open("a") as f:
            f.write(f"{epoch},{self.step},{np.mean(losses) if losses else math.nan:.6g},{val_loss:.6g},"
                    f"{mre:.4f},{med:.4f},{lr:.3g},{self.minutes() * 60:.1f}\n")
        config.training.update({"epochs_done": epoch + 1, "steps": self.step, "val_mre_model_px": mre,
                                "val_median_model_px": med})
        save_checkpoint(self.last_path, self.model, config, half=opts.half_checkpoints)
        if math.isfinite(mre) and mre < self.best_mre:
            self.best_mre = mre
            config.training["best_epoch"] = epoch
            save_checkpoint(self.best_path, self.model, config, half=opts.half_checkpoints)
        tmp_state = self.state_path.with_name(".train_state.pt.tmp")
        torch.save({"optimizer": self.optim.state_dict(), "epoch": epoch, "best_mre": self.best_mre,
                    "step": self.step, "minutes": self.minutes()}, tmp_state)
        os.replace(tmp_state, self.state_path)
        if not interrupted:
            _plot(self.metrics_csv, self.out / "metrics.png")

    def out_of_budget(self) -> bool:
        """--max-steps reached or --max-minutes spent."""
        out_of_time = self.opts.max_minutes is not None and self.minutes() > self.opts.max_minutes
        return bool(self.opts.max_steps and self.step >= self.opts.max_steps) or out_of_time


def train(opts: TrainOptions, *, progress: Callable[[dict], None] | None = None) -> dict:
    """Train; returns a summary. ``progress(info)`` is called after every step (rank 0).
    SIGTERM or Ctrl-C stops after the current step with the run saved (summary
    ``"interrupted": true``)."""
    rank, distributed, device = _init_process(opts)
    torch.manual_seed(opts.seed + rank)
    out = Path(opts.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    dataset_dir = Path(opts.dataset)
    model, config, state = _build(opts, dataset_dir, out / "last.safetensors", out / "train_state.pt")
    model.to(device).train()
    train_ds, val_ds, sampler, loader, val_loader = _datasets(opts, dataset_dir, config, distributed)
    run = _Run(opts, model, config, state, device=device, out=out, distributed=distributed,
               steps_per_epoch=max(1, len(loader)))
    run.begin(rank, dataset_dir)

    stopped = False
    epoch = run.start_epoch - 1
    lr = opts.lr
    with _StopSignals() as stop:
        for epoch in range(run.start_epoch, opts.epochs):
            train_ds.epoch = epoch
            if sampler is not None:
                sampler.set_epoch(epoch)
            losses = []
            for batch in loader:
                loss, sigma, lr = run.train_step(batch)
                losses.append(loss)
                if progress is not None and rank == 0:
                    progress({"epoch": epoch, "step": run.step, "total_steps": run.total_steps, "loss": loss,
                              "sigma": sigma, "lr": lr})
                if run.out_of_budget() or stop.signal is not None:
                    stopped = True
                    break
            if rank == 0:
                run.end_epoch(epoch, losses, lr, val_loader, validate=bool(len(val_ds)) and stop.signal is None,
                              interrupted=stop.signal is not None)
            if distributed:
                dist.barrier()
            if stopped:
                break
    summary = {"epochs_done": epoch + 1, "steps": run.step, "best_val_mre_model_px": run.best_mre,
               "checkpoint": str(run.best_path if run.best_path.is_file() else run.last_path),
               "seconds": run.minutes() * 60, "interrupted": stop.signal is not None}
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if distributed:
        dist.destroy_process_group()
    return summary


def options_from_checkpoint(path: str) -> dict:
    """The training options a checkpoint records (for reproducing it)."""
    return read_config(path).training.get("options", {})
