"""Readers and writers: radiographs, the study store, importers and exporters (no Qt)."""
