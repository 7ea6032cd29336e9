"""What core and io need of a study store, as a structural type (no import of io here).

``vam_gui.io.study.Study`` is the store; commands, reviews and importers are written against
this Protocol so that core stays a base layer (it imports nothing of ours but core) and any
object with these methods (a test double, a future read-only or multi-reader store) works.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from vam_gui.core.annotation import Annotation, PointState, ReviewState
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.schema import Schema


class PredictionRecord(Protocol):
    """A stored prediction: points in original px and the letterbox of the pass they came from."""

    @property
    def xy(self) -> np.ndarray: ...  # [K, 2] original px
    @property
    def confidence(self) -> np.ndarray: ...  # [K]
    @property
    def spread(self) -> np.ndarray: ...  # [K]
    @property
    def model_id(self) -> str: ...
    @property
    def letterbox(self) -> Letterbox: ...  # model px <-> original px of the heatmaps


class ImageRecord(Protocol):
    """What the store knows of one image besides its points."""

    @property
    def image_id(self) -> str: ...
    @property
    def spacing(self) -> tuple[float, float] | None: ...
    @property
    def spacing_is_detector(self) -> bool: ...
    @property
    def facing(self) -> str | None: ...
    @property
    def status(self) -> str: ...


class LockRecord(Protocol):
    """Who has a study open for writing (one writer per study)."""

    @property
    def host(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def since(self) -> str: ...  # ISO 8601, UTC


class StudyStore(Protocol):
    """The store's interface as core and io use it (``vam_gui.io.Study`` implements it)."""

    @property
    def schema(self) -> Schema: ...

    @property
    def read_only(self) -> bool: ...  # writes raise (opened read-only, or another process writes)

    @property
    def lock_holder(self) -> LockRecord | None: ...  # the other writer that made it read-only

    def annotation(self, image_id: str) -> Annotation: ...

    def status(self, image_id: str) -> ReviewState: ...

    def prediction(self, image_id: str) -> PredictionRecord | None: ...

    def heatmaps(self, image_id: str) -> np.ndarray | None: ...  # uint8 [K, H, W] in model px

    def image_info(self, image_id: str) -> ImageRecord: ...

    def apply_edit(self, image_id: str, *, user: str, kind: str, label: str = "",
                   points: dict[int, PointState] | None = None, review: ReviewState | None = None) -> int: ...
