"""The phantom's random streams, its difficulty knobs and the record of what was drawn.

Two streams: ``rng`` (seeded by the seed alone) draws everything a phantom of difficulty
<= 1 needs, in a fixed order -- the pinned phantoms depend on that order, so a stage that
draws must run where the generator calls it. ``xrng`` belongs to the extras of difficulty
above 1; drawing from it never moves a number of ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def extras_rng(seed: int) -> np.random.Generator:
    """The random stream of the extras (independent of the generator's own stream)."""
    return np.random.default_rng([int(seed) % (1 << 63), 0x0E47_2A5])


@dataclass
class Dice:
    rng: np.random.Generator  # the generator's own stream
    xrng: np.random.Generator  # the extras' stream
    d: float  # nuisance strength in [0, 1]
    x: float  # extras strength (difficulty - 1) in [0, 1]; 0: no extras at all
    params: dict[str, Any] = field(default_factory=dict)  # every parameter drawn, by name
    extras: dict[str, Any] = field(default_factory=dict)  # the extras' parameters

    @classmethod
    def start(cls, seed: int, difficulty: float, *, view: str, clean: bool) -> Dice:
        d = float(np.clip(difficulty, 0.0, 1.0))
        x = float(np.clip(difficulty - 1.0, 0.0, 1.0))
        dice = cls(rng=np.random.default_rng(seed), xrng=extras_rng(seed), d=d, x=x)
        dice.params.update(view=view, difficulty=d, clean=bool(clean))
        if x > 0:
            dice.params.update(difficulty=1.0 + x, extras=dice.extras)
        return dice
