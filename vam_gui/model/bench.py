"""Benchmarks of the model layer, reported by ``vam-gui bench``.

Every figure is a median over repeats, measured in this one run, so ratios (vectorised
targets vs the seed's loop vs the memory-write floor) compare like with like.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def _median_s(fn: Callable[[], object], repeats: int, *, warmup: int = 1, sync: bool = False) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_targets(device: torch.device, *, batch: int = 8, k: int = 20, size: int = 512,
                  repeats: int = 7) -> dict[str, float]:
    """Target generation: ours, the seed's loop, and filling a same-shaped tensor. Ours and the
    floor are timed alternately, so whatever the allocator and the kernel are doing with
    memory at the moment (page faults, huge-page compaction) weighs on both alike."""
    from vam_gui.model.targets import gaussian_heatmaps, reference_heatmaps_loop

    gen = torch.Generator().manual_seed(0)
    xy = (torch.rand(batch, k, 2, generator=gen) * (size - 1)).to(device)
    sync = device.type == "cuda"

    def ours() -> None:
        gaussian_heatmaps(xy, size)

    def floor() -> None:
        torch.full((batch, k, size, size), 0.5, device=device)

    times: dict[str, list[float]] = {"ours": [], "floor": []}
    ours(), floor()
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("floor", floor)):
            times[name].append(_median_s(fn, 1, warmup=0, sync=sync))
    t_ours, t_floor = statistics.median(times["ours"]), statistics.median(times["floor"])
    loop = _median_s(lambda: reference_heatmaps_loop(xy, size, size), max(3, repeats // 2), sync=sync)
    return {
        "targets_ms": t_ours * 1e3,
        "targets_seed_loop_ms": loop * 1e3,
        "targets_fill_floor_ms": t_floor * 1e3,
        "targets_speedup_vs_seed_loop": loop / t_ours,
        "targets_ratio_to_fill_floor": t_ours / t_floor,
    }


def bench_dark(device: torch.device, *, k: int = 20, size: int = 512, repeats: int = 20) -> dict[str, float]:
    """DARK decoding of one image's K heatmaps (noisy Gaussians, like a network's output)."""
    from vam_gui.model.dark import dark_decode
    from vam_gui.model.targets import gaussian_heatmaps

    gen = torch.Generator().manual_seed(1)
    xy = torch.rand(1, k, 2, generator=gen) * (size - 1)
    maps = gaussian_heatmaps(xy, size) + 0.02 * torch.randn(1, k, size, size, generator=gen)
    maps = maps.to(device)
    t = _median_s(lambda: dark_decode(maps), repeats, warmup=2, sync=device.type == "cuda")
    return {"dark_ms_per_image": t * 1e3}


def bench_forward(device: torch.device, *, size: int = 512, repeats: int = 3) -> dict[str, float]:
    """Model forward time per image (batch 1, no grad) for both backbones."""
    out: dict[str, float] = {}
    x = torch.randn(1, 3, size, size, device=device)
    for backbone in ("efficientnet_v2_s", "mobilenet_v3_large"):
        out[f"forward_ms_{backbone}_{size}"] = _forward_seconds(device, backbone, x, repeats) * 1e3
    return out


def _forward_seconds(device: torch.device, backbone: str, x: torch.Tensor, repeats: int) -> float:
    """Median forward time of one freshly built model (freed on return, before the next)."""
    from vam_gui.model.config import ModelConfig
    from vam_gui.model.network import build_model

    model = build_model(ModelConfig(backbone=backbone, input_size=x.shape[-1])).to(device).eval()

    def run() -> None:
        with torch.inference_mode():
            if device.type == "cuda":
                dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
                with torch.autocast("cuda", dtype=dtype):
                    model(x)
            else:
                model(x)

    return _median_s(run, repeats, sync=device.type == "cuda")


def bench_training(device: torch.device, *, quick: bool = False) -> dict[str, float]:
    """Training throughput (fwd + bwd + AdamW step) in images/s on ``device``."""
    cases = [("mobilenet_v3_large", 128 if quick else 256, 4)]
    if not quick:
        cases.append(("efficientnet_v2_s", 512, 2))
    out: dict[str, float] = {}
    for backbone, size, batch in cases:
        seconds = _training_step_seconds(device, backbone, size, batch, repeats=1 if quick else 3)
        out[f"train_images_per_s_{backbone}_{size}"] = batch / seconds
    return out


def _training_step_seconds(device: torch.device, backbone: str, size: int, batch: int, *, repeats: int) -> float:
    """Median time of one training step of a freshly built model (freed on return, before the next)."""
    from vam_gui.model.config import ModelConfig
    from vam_gui.model.loss import heatmap_loss
    from vam_gui.model.network import build_model
    from vam_gui.model.targets import gaussian_heatmaps

    model = build_model(ModelConfig(backbone=backbone, input_size=size)).to(device).train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, size, size, device=device)
    target = gaussian_heatmaps(torch.rand(batch, model.num_keypoints, 2, device=device) * size, size)
    use_amp = device.type == "cuda"

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            heat = model(x)
        loss = heatmap_loss(heat.float(), target)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return _median_s(step, repeats, sync=device.type == "cuda")


def bench_two_pass(device: torch.device, *, repeats: int = 5) -> dict[str, float]:
    """The shipped demo model on one full-length phantom film, predicting the lumbar-ap-20
    points (what a lumbar study asks of a whole-column model): one pass on the whole film
    against the two-pass predictor (whole film, then a crop around L1-L5). Same image, same
    model, the two timed alternately; preprocessing included, as a user pays for it. Against
    them, alternately too, a bare forward of the first pass's input tensor (same size, batch of
    one, same threads): what the predictor adds to the network."""
    from vam_gui.core.resources import resource_path
    from vam_gui.core.schema import load_schema
    from vam_gui.model.predictor import Predictor
    from vam_gui.synth import make_phantom

    single = Predictor(resource_path("models", "demo.safetensors"), device=device, refine=False)
    double = Predictor((single.model, single.config), device=device, refine=True)
    lumbar = load_schema("lumbar-ap-20")
    schema = lumbar if lumbar.is_subset_of(single.network_schema) else single.network_schema
    pixels = make_phantom("spine-ap-68", seed=424242).pixels
    from vam_gui.model.preprocess import prepare

    tensor = prepare(pixels, single.config)[0][None]  # the first pass's input: a bare forward of it
    runs = {"one": lambda: single.predict(pixels, schema=schema), "two": lambda: double.predict(pixels, schema=schema),
            "forward": lambda: single._forward(tensor)}
    for run in runs.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(_median_s(run, 1, warmup=0, sync=device.type == "cuda"))
    one, two, fwd = (statistics.median(times[name]) for name in ("one", "two", "forward"))
    h, w = single.config.input_hw
    return {f"predict_ms_one_pass_{h}x{w}": one * 1e3, f"predict_ms_two_pass_{h}x{w}": two * 1e3,
            "predict_two_pass_ratio": two / one, f"forward_ms_bare_{h}x{w}": fwd * 1e3,
            # what prediction adds to the network (reading, letterboxing, DARK, the crop): issue 16's 1.3x
            "predict_one_pass_vs_forward": one / fwd, "predict_two_pass_vs_two_forwards": two / (2 * fwd)}


def bench_gestures(device: torch.device, *, side: int = 2000, repeats: int = 5) -> dict[str, float]:
    """The few-gesture correction on one ``side`` x ``side`` full-length phantom film: a
    ``FitTemplate`` pushed on a study (the command's do, one committed store write), and
    "Predict here" with the shipped demo model, guided by that template (one crop, one forward
    pass) and in a dragged region with no guides (the predictor's own points as priors)."""
    import tempfile
    from pathlib import Path

    import cv2

    from vam_gui.core.annotation import Annotation
    from vam_gui.core.commands import CommandStack, FitTemplate
    from vam_gui.core.resources import resource_path
    from vam_gui.core.schema import load_schema
    from vam_gui.core.template import anchor_points
    from vam_gui.io.study import Study
    from vam_gui.model.guided import predict_here
    from vam_gui.model.predictor import Predictor
    from vam_gui.synth import make_phantom

    lumbar, spine = load_schema("lumbar-ap-20"), load_schema("spine-ap-68")
    ph = make_phantom(spine, seed=424242, size=(side, side))
    truth = ph.xy[lumbar.indices_in(spine)]
    top, bottom = anchor_points(truth, lumbar)
    sync = device.type == "cuda"
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        cv2.imwrite(str(Path(tmp) / "film.png"), ph.pixels)
        with Study.create(Path(tmp) / "s.vamstudy", lumbar) as study:
            study.add_images([Path(tmp) / "film.png"])
            image = study.image_ids()[0]
            stack = CommandStack(study, user="bench")
            fit = _median_s(lambda: stack.push(FitTemplate(image, top, bottom)), repeats * 4)
            placed = study.annotation(image)
    predictor = Predictor(resource_path("models", "demo.safetensors"), device=device, schema=lumbar)
    guided = _median_s(lambda: predict_here(predictor, ph.pixels, placed, lumbar), repeats, sync=sync)
    region = (*(truth.min(axis=0) - 40), *(truth.max(axis=0) + 40))
    empty = Annotation.empty(lumbar.k)
    dragged = _median_s(lambda: predict_here(predictor, ph.pixels, empty, lumbar, region=region), repeats, sync=sync)
    return {"fit_template_ms": fit * 1e3, f"predict_here_ms_{side}x{side}": guided * 1e3,
            f"predict_here_region_ms_{side}x{side}": dragged * 1e3}


def model_bench_steps(device: torch.device, *, quick: bool = False) -> list[tuple[str, Callable[[], dict]]]:
    """The model room's figures as (what, run) steps, so a caller can say which one runs."""
    return [
        ("targets against the seed's loop and the fill floor",
         lambda: bench_targets(device, repeats=3 if quick else 7)),
        ("DARK decoding", lambda: bench_dark(device, repeats=5 if quick else 20)),
        ("forward pass of both backbones",
         lambda: bench_forward(device, size=256 if quick else 512, repeats=1 if quick else 3)),
        ("one pass against two", lambda: bench_two_pass(device, repeats=2 if quick else 15)),
        ("fit template and predict here",
         lambda: bench_gestures(device, side=1000 if quick else 2000, repeats=2 if quick else 5)),
        ("training throughput", lambda: bench_training(device, quick=quick)),
    ]


def run_model_benchmarks(device: torch.device, *, quick: bool = False) -> dict[str, float | str]:
    results: dict[str, float | str] = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
    }
    for _what, run in model_bench_steps(device, quick=quick):
        results.update(run())
    return results
