"""`zvc69 info` and codec.info: values, text, JSON, one-line errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codec.cli import COMMANDS, main
from codec.container import ContainerWriter, FileHeader
from codec.info import describe, format_info

ROOT = Path(__file__).resolve().parents[1]
HEADER = FileHeader(
    width=320, height=240, fps_num=25, fps_den=1, quality=5, gop_size=3,
    model_hash=bytes.fromhex("a1b2c3d4"), latent_channels=192, hyperprior_channels=128,
)  # fmt: skip
# GOP structure I P P | I P | I P P P; payload n has 10 * (n + 1) bytes
TYPES = [0, 1, 1, 0, 1, 0, 1, 1, 1]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.zvc69"
    with ContainerWriter(path, HEADER) as w:
        for n, t in enumerate(TYPES):
            w.write_frame(t, bytes([n]) * 10 * (n + 1), 3600 * n, 3600 * n, keyframe=t == 0)
    return path


def test_describe_values(clip: Path) -> None:
    d = describe(clip)
    sizes = [16 + 10 * (n + 1) for n in range(len(TYPES))]
    assert (d["width"], d["height"], d["quality"], d["gop_size"]) == (320, 240, 5, 3)
    assert d["model_hash"] == "a1b2c3d4" and d["version"] == "18.0" and d["flags"] == ["HAS_INDEX"]
    assert (d["latent_channels"], d["hyperprior_channels"]) == (192, 128)
    assert d["frames"] == d["header_total_frames"] == 9
    assert d["frame_types"] == {"I": 3, "P": 6, "B": 0, "b": 0}
    assert (d["total_bytes"], d["min_bytes"], d["max_bytes"]) == (sum(sizes), 26, 106)
    assert d["mean_bytes"] == pytest.approx(sum(sizes) / 9)
    assert d["duration_s"] == pytest.approx(9 / 25)
    assert d["bitrate_kbps"] == pytest.approx(8 * sum(sizes) / (9 / 25) / 1000)
    assert d["keyframes"] == [0, 3, 5] and d["gop_lengths"] == [3, 2, 4]
    assert [f["offset"] for f in d["index"]] == [64 + sum(sizes[:n]) for n in range(9)]
    assert [f["type"] for f in d["index"]] == ["I", "P", "P", "I", "P", "I", "P", "P", "P"]
    assert d["damage"] is None and not d["index_rebuilt"] and d["errors"] == []
    json.dumps(d)  # serialisable
    text = format_info(d, frames=4)
    assert "320x240 YUV420 8-bit, 25/1 fps" in text and "(16-byte frame header included)" in text
    assert "9 (I 3, P 6, B 0, b 0)" in text and "GOP lengths   3, 2, 4" in text
    assert "... 5 more frames" in text and "damage" not in text
    assert [f["shown"] for f in d["index"]] == list(range(9))  # 3600 ticks a frame at 25 fps


def test_frame_table_shows_display_order(tmp_path: Path) -> None:
    path = tmp_path / "b.zvc69"
    with ContainerWriter(path, HEADER) as w:  # I0 P2 B1: stored in decode order
        for n, (t, shown) in enumerate([(0, 0), (1, 2), (2, 1)]):
            w.write_frame(t, bytes(8), 3600 * shown, 3600 * n, keyframe=t == 0)
    d = describe(path)
    assert [(f["frame"], f["shown"], f["type"]) for f in d["index"]] == [
        (0, 0, "I"), (1, 2, "P"), (2, 1, "B")]
    lines = format_info(d, frames=3).splitlines()
    assert lines[-4].split()[:3] == ["frame", "shown", "type"]
    assert lines[-1].split()[:3] == ["2", "1", "B"]


def test_describe_partial_and_damaged(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    data[64 + 16 + 3] ^= 1  # payload of frame 0
    cut = tmp_path / "cut.zvc69"
    cut.write_bytes(bytes(data[:250]))
    d = describe(cut, verify=True)
    assert d["index_rebuilt"] and d["frames"] == 4
    assert [e["frame"] for e in d["errors"]] == [0]
    text = format_info(d)
    assert "damage        index of 9 entries" in text and "frame errors  1 (CRCs verified)" in text


def test_main_info_text_and_json(clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(clip), "--frames", "2"]) == 0
    out = capsys.readouterr().out
    assert "320x240" in out and "model a1b2c3d4" in out and "... 7 more frames" in out
    assert main(["info", str(clip), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["frames"] == 9 and d["keyframes"] == [0, 3, 5]


def test_main_verify_reports_crc_errors(clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(clip.read_bytes())
    data[-16 * 9 - 1] ^= 0x80  # last byte of the last payload
    clip.write_bytes(bytes(data))
    assert main(["info", str(clip)]) == 0  # headers only: payload damage unseen
    assert main(["info", str(clip), "--verify"]) == 1
    assert "frame 8: payload CRC-16" in capsys.readouterr().out


def test_main_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.zvc69"
    bad.write_bytes(b"not a video at all")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zvc69: error: not a ZVC69 file") and err.count("\n") == 1
    assert "at byte offset 0" in err
    assert main(["info", str(tmp_path / "missing.zvc69")]) == 2
    err = capsys.readouterr().err
    assert err == f"zvc69: error: {tmp_path / 'missing.zvc69'}: No such file or directory\n"
    assert main(["info", str(tmp_path)]) == 2  # a folder
    assert capsys.readouterr().err.startswith("zvc69: error: ")
    assert main([]) == 2
    assert "a command is required" in capsys.readouterr().err
    assert main(["info"]) == 2  # usage error from argparse
    assert main(["--version"]) == 0
    assert "zvc69 0." in capsys.readouterr().out


def test_every_registered_command_is_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "info" in COMMANDS
    for name, command in COMMANDS.items():
        assert name in out and command.help in out


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codec.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_subprocess_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zvc69"
    bad.write_bytes(b"ZVC69\0\x13\x00" + bytes(56))
    for target, message in ((bad, "unsupported version 19.0"), (tmp_path / "nope", "nope")):
        proc = run_cli("info", str(target))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("zvc69: error: ") and message in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert proc.stdout == ""


INTERRUPTED = """
import os, signal, sys, threading
from codec.cli import main
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
sys.exit(main(["info", sys.argv[1]]))  # blocks opening a FIFO nobody writes to
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_ctrl_c_exits_130_with_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [sys.executable, "-c", INTERRUPTED, str(fifo)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "zvc69: interrupted\n"
