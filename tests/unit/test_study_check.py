"""``vam-gui study check``: SQLite's check of every page, on request (opening does not scan)."""

from __future__ import annotations

import sqlite3

from vam_gui.cli import main
from vam_gui.io import Study
from vam_gui.io.bench import build_scale_study


def _damage_a_heatmap_page(path) -> None:
    """Overwrite the cell pointers of a page of stored heatmaps: the file still opens (opening
    reads no heatmap) but that page no longer makes sense."""
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'heatmaps' AND pagetype = 'leaf'")]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert pages, "no heatmap page to damage"
    with open(path, "r+b") as f:
        f.seek((pages[len(pages) // 2] - 1) * page_size + 8)
        f.write(b"\x07" * 64)


def test_a_sound_study_checks_sound(tmp_path, capsys):
    path = build_scale_study(tmp_path, 4, side=64)
    assert main(["study", "check", str(path)]) == 0
    assert "sound" in capsys.readouterr().out
    assert main(["study", "check", "--full", str(path)]) == 0


def test_a_damaged_page_is_found_and_exits_1(tmp_path, capsys):
    path = build_scale_study(tmp_path, 60, side=64)
    _damage_a_heatmap_page(path)
    with Study.open(path, read_only=True) as study:  # opening reads no damaged page
        assert study.image_ids()
    assert main(["study", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "damaged" in err and "problem" in err


def test_no_study_is_one_line(tmp_path, capsys):
    assert main(["study", "check", str(tmp_path / "none.vamstudy")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
