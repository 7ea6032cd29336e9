"""The command line: help for every command, bench output."""

import json
import subprocess
import sys

import pytest

from vam_gui.cli import build_parser, main


def test_every_command_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public API
    assert {"open", "predict", "bench"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: vam-gui" in capsys.readouterr().out


def test_the_window_command_line_reads_as_the_parser_reads_it():
    from vam_gui.cli import COMMANDS, parse_command_line

    parser = build_parser()
    for argv in ([], ["open"], ["open", "a.vamstudy"], ["open", "x.png", "y.dcm"]):
        fast = parse_command_line(argv)  # no option: no parser is built
        parsed = parser.parse_args(argv or ["open"])
        assert (fast.command, fast.paths, fast.func) == (parsed.command, parsed.paths, parsed.func)
    assert set(COMMANDS) == set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001
    with pytest.raises(SystemExit):  # an option goes through argparse: its error or help
        parse_command_line(["open", "--bogus"])
    with pytest.raises(SystemExit):
        parse_command_line(["a.vamstudy"])  # a path is no command (as before): `vam-gui open PATH`


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "vam_gui", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("vam-gui ")


@pytest.mark.slow  # the whole benchmark, half a minute: with the soak tests (pytest -m slow)
def test_bench_json_quick(capsys):
    assert main(["bench", "--json", "--quick", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    figures = json.loads(out)
    progress = [line for line in err.splitlines() if line.startswith("bench ")]
    total = int(progress[0].split("/")[1].split(":")[0])
    assert len(progress) == total and progress[-1].startswith(f"bench {total}/{total}: ")  # says what runs
    assert all(line.endswith(" s") for line in progress)
    for key in ("targets_ms", "targets_seed_loop_ms", "targets_fill_floor_ms",
                "targets_speedup_vs_seed_loop", "targets_ratio_to_fill_floor", "dark_ms_per_image",
                "forward_ms_efficientnet_v2_s_256", "forward_ms_mobilenet_v3_large_256",
                "edit_commit_ms_median", "dicom_load_ms", "dicom_load_ratio", "drag_move_ms_median",
                "image_switch_2k_ms_median", "window_ready_ms", "window_ready_bare_pyside6_ms", "window_ready_ratio",
                "window_interactive_ms", "window_interactive_ratio",
                "edit_release_to_refreshed_ms", "edit_release_to_refreshed_measurements_tab_ms",
                "train_images_per_s_mobilenet_v3_large_128",
                "export_images_per_s"):
        assert figures[key] > 0, key
    assert figures["device"] == "cpu"
