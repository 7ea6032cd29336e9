"""How a measurement is named for a reader, and which vertebrae it rests on.

The result rows (``Measurements.rows``) carry code names meant for CSV columns
("L1.height.left", "disc L1-L2.segment_angle", "cobb_L1_L5.magnitude"); the window shows
``display_name`` instead ("L1 height, left", "Disc L1–L2 segment angle", "Cobb angle L1–L5,
magnitude"). ``levels_of`` names the vertebrae whose corners a row is computed from, so a
measurement resting on unsure predicted points can be marked rather than shown as measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

_WORDS = {"genant": "Genant", "meyerding": "Meyerding grade", "cobb": "Cobb", "max": "largest"}


def _words(text: str) -> str:
    out = " ".join(_WORDS.get(w, w) for w in text.replace("_", " ").split())
    return out.replace("largest Cobb", "largest Cobb angle")


def display_name(code: str) -> str:
    """A row's code name as a reader would say it."""
    head, *rest = code.split(".")
    cobb = re.fullmatch(r"cobb_([A-Za-z]+\d*)_([A-Za-z]+\d*)", head)
    if cobb:
        head = f"Cobb angle {cobb.group(1)}–{cobb.group(2)}"
    elif head.startswith(("disc ", "slip ")):
        kind, levels = head.split(" ", 1)
        head = f"{kind.capitalize()} {levels.replace('-', '–')}"
        if rest and rest[0].startswith(kind + "_"):  # "disc L1-L2.disc_angle": say "disc" once
            rest[0] = rest[0][len(kind) + 1:]
    else:
        head = _words(head)
    tail = [_words(part) for part in rest]
    if tail and tail[0] in ("height", "ratio") and len(tail) > 1:
        return f"{head} {tail[0]}, {', '.join(tail[1:])}"
    if tail and tail[-1] == "magnitude":
        text = " ".join([head, *tail[:-1]]) + ", magnitude"
    else:
        text = " ".join([head, *tail])
    return text[:1].upper() + text[1:]


def levels_of(code: str, vertebrae: Sequence[str]) -> list[str]:
    """The vertebrae a row rests on: those named in its code (a Cobb angle L1–L5 rests on L1
    and L5, a disc L1–L2 on both); a row naming none (the largest Cobb angle, a note) rests on
    all of them."""
    tokens = set(re.split(r"[^A-Za-z0-9]+", code))
    named = [v for v in vertebrae if v in tokens]
    return named if named else list(vertebrae)


def unsure_vertebrae(vertebra_of: Sequence[int], vertebrae: Sequence[str], visible: np.ndarray,
                     sources: Iterable[str], confidence: np.ndarray | None, threshold: float) -> set[str]:
    """Vertebrae with a corner that is still a prediction below ``threshold`` (nobody confirmed it)."""
    if confidence is None:
        return set()
    out = set()
    for i, source in enumerate(sources):
        if source == "predicted" and bool(visible[i]) and float(confidence[i]) < threshold:
            out.add(vertebrae[vertebra_of[i]])
    return out
