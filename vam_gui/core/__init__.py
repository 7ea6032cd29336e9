"""Data types and geometry: dataclasses and numpy only (no Qt, no torch)."""
