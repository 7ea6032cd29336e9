"""Readers and writers: radiographs, the study store, importers and exporters (no Qt)."""

from vam_gui.core.radiograph import Radiograph
from vam_gui.io.radiograph import RadiographError, load_radiograph
from vam_gui.io.study import UNCHANGED, DamagedRowError, ImageEdit, Study, StudyError, StudyWriteError

__all__ = ["UNCHANGED", "DamagedRowError", "ImageEdit", "Radiograph", "RadiographError", "Study", "StudyError",
           "StudyWriteError", "load_radiograph"]
