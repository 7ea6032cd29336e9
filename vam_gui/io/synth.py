"""`vam-gui synth`: write procedural spine phantoms with exact labels.

Outputs (any combination): image files (PNG, or DICOM with pixel spacing, some of them
MONOCHROME1) with our JSON labels; a study with the labels imported; a training dataset.
Deterministic: phantom i uses seed ``seed + i``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vam_gui.core.atomic import write_bytes_atomic
from vam_gui.core.schema import Schema, load_schema
from vam_gui.io.labels_file import LabelEntry, labels_document, labels_json
from vam_gui.synth import Phantom, make_phantom


def phantom_dicom_bytes(ph: Phantom, *, monochrome1: bool, uid_root_seed: int) -> bytes:
    """A DX DICOM of a phantom with PixelSpacing (MONOCHROME1 stores the inverted values)."""
    import io

    from vam_gui.io.dicom_write import dx_dataset

    pixels = ph.pixels.astype(np.uint16)
    lo, hi = np.percentile(pixels[::4, ::4], [0.5, 99.5])
    if monochrome1:
        pixels = (65535 - pixels).astype(np.uint16)
        lo, hi = 65535 - hi, 65535 - lo
    ds = dx_dataset(pixels, spacing=ph.spacing, photometric="MONOCHROME1" if monochrome1 else "MONOCHROME2",
                    window=((lo + hi) / 2, hi - lo), uid_seed=f"vam-gui-synth-{uid_root_seed}",
                    BodyPartExamined="LSPINE", ViewPosition="AP" if ph.facing is None else "LL",
                    PatientName="PHANTOM^SYNTHETIC", PatientID=f"SYNTH{uid_root_seed:06d}")
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def synthesize(
    out: str | os.PathLike[str],
    n: int,
    *,
    schema: str = "lumbar-ap-20",
    seed: int = 0,
    dicom: bool = False,
    difficulty: float = 1.0,
    images: bool = True,
    study: bool = False,
    dataset_size: int | None = None,
    sigma: float = 2.0,
    val_fraction: float = 0.1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write ``n`` phantoms into ``out``. Returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sch = load_schema(schema)
    entries: list[LabelEntry] = []
    written: dict[str, Any] = {}

    def phantoms() -> Iterator[tuple[str, int, Phantom]]:
        """Make, write and yield one phantom at a time (a large run never sits in memory)."""
        for i in range(n):
            ph = make_phantom(sch, seed=seed + i, difficulty=difficulty)
            name = f"phantom-{seed + i:06d}"
            if images:
                entries.append(_write_image(out, name, ph, sch, dicom=dicom, seed=seed + i))
            yield name, seed + i, ph
            if progress is not None:
                progress(i + 1, n)

    if dataset_size is None:
        for _ in phantoms():
            pass
    else:
        from vam_gui.io.dataset import DatasetSource, write_dataset

        every = max(1, round(1 / val_fraction)) if val_fraction > 0 else 0
        sources = (
            # Splits by seed, so a held-out range of seeds is never trained on.
            DatasetSource(name, ph.pixels, ph.xy, ph.visible, ph.spacing, ["placed"] * sch.k,
                          split="val" if every and s % every == 0 else "train", extra={"facing": ph.facing})
            for name, s, ph in phantoms()
        )
        written["dataset"] = str(write_dataset(
            sources, out / "dataset", sch, size=dataset_size, sigma=sigma, total=n,
            info={"source": f"vam-gui synth (seeds {seed}..{seed + n - 1}, difficulty {difficulty})"},
            workers=2).parent)
    if images:
        written["labels"] = str(write_bytes_atomic(out / "labels.json", labels_json(labels_document(sch, entries))))
    if study:
        written["study"] = str(_write_study(out, sch, entries))
    return written


def _write_image(out: Path, name: str, ph: Phantom, schema: Schema, *, dicom: bool, seed: int) -> LabelEntry:
    if dicom:
        file = f"images/{name}.dcm"
        write_bytes_atomic(out / file, phantom_dicom_bytes(ph, monochrome1=seed % 3 == 0, uid_root_seed=seed))
    else:
        import cv2

        file = f"images/{name}.png"
        ok, png = cv2.imencode(".png", ph.pixels)
        if not ok:
            raise OSError(f"could not encode {name}")
        write_bytes_atomic(out / file, png.tobytes())
    return LabelEntry(id=name, file=file, width=int(ph.pixels.shape[1]), height=int(ph.pixels.shape[0]),
                      spacing=ph.spacing, status="accepted", facing=ph.facing, xy=ph.xy, visible=ph.visible,
                      sources=["placed"] * schema.k)


def _write_study(out: Path, schema: Schema, entries: list[LabelEntry]) -> Path:
    from vam_gui.core.annotation import PointState, ReviewState
    from vam_gui.io.study import Study

    path = out / "phantoms.vamstudy"
    if path.exists():
        path.unlink()
    with Study.create(path, schema) as st:
        st.add_images([out / str(e.file) for e in entries])
        by_file = {Path(st.image_info(i).rel_path).name: i for i in st.image_ids()}
        for e in entries:
            image_id = by_file.get(Path(str(e.file)).name)
            if image_id is None:
                continue
            points = {k: PointState(float(x), float(y), bool(v), "imported")
                      for k, ((x, y), v) in enumerate(zip(e.xy, e.visible))}
            st.apply_edit(image_id, user="vam-gui synth", kind="import", label="synthetic ground truth",
                          points=points, review=ReviewState("accepted", None, "vam-gui synth"))
            if e.facing:
                st.set_facing(image_id, e.facing)
    return path
