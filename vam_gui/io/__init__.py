"""Readers and writers: radiographs, the study store, importers and exporters (no Qt)."""

from vam_gui.core.radiograph import Radiograph
from vam_gui.io.radiograph import RadiographError, load_radiograph
from vam_gui.io.study import Study, StudyError

__all__ = ["Radiograph", "RadiographError", "Study", "StudyError", "load_radiograph"]
