"""`zvc69 encode / decode / demo` end to end, including bad input and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from codec.api import StreamDecoder, shared_codecs
from codec.cli import main
from codec.media import open_sink, open_source, read_image, write_image
from tests.codec_helpers import pan_clip, texture

ROOT = Path(__file__).resolve().parents[1]


def test_encode_decode_image(tmp_path, capsys):
    img = texture(40, 56, seed=5)
    write_image(tmp_path / "in.png", img)
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "x.zvc69"),
                 "-q", "6", "--quiet", "--device", "cpu"]) == 0
    assert main(["decode", str(tmp_path / "x.zvc69"), "-o", str(tmp_path / "out.png"),
                 "--device", "cpu"]) == 0
    out = read_image(tmp_path / "out.png")
    with StreamDecoder(tmp_path / "x.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert dec.num_frames == 1
        frame, _ = dec.decode(0)
    assert np.array_equal(out, frame)
    assert "1 frames (1 I, 0 P, 0 B)" in capsys.readouterr().out


def test_encode_video_then_decode_to_y4m_and_pngs(tmp_path):
    src = tmp_path / "clip.y4m"
    with open_sink(src, 64, 48, 25) as sink:
        for f in pan_clip(5, 48, 64):
            sink.write(f)
    z = tmp_path / "clip.zvc69"
    assert main(["encode", str(src), "-o", str(z), "--gop", "3", "--preset", "fast",
                 "--quiet", "--device", "cpu"]) == 0
    assert main(["decode", str(z), "-o", str(tmp_path / "back.y4m"), "--device", "cpu"]) == 0
    assert main(["decode", str(z), "-o", str(tmp_path / "frames") + "/", "--device",
                 "cpu"]) == 0
    with open_source(tmp_path / "back.y4m") as back:
        assert (back.width, back.height) == (64, 48)
        assert len(list(back)) == 5
    assert len(list((tmp_path / "frames").glob("*.png"))) == 5
    with StreamDecoder(z, codecs=shared_codecs("cpu")) as dec:
        types = [s.frame_type for s in dec.scan()]
    assert types == ["I", "B", "P", "I", "P"]


def test_bframes_options_reach_the_encoder(tmp_path, capsys):
    """--bframes 1 --fixed-groups: every group one B-frame and its anchor; --bframes 0: none."""
    z = tmp_path / "g.zvc69"
    for argv, want in ((["--bframes", "1", "--fixed-groups"], "IBPBPBP"),
                       (["--bframes", "0"], "IPPPPPP")):
        assert main(["encode", "demo:64x48", "-o", str(z), "--frames", "7", "--quiet",
                     "--device", "cpu", *argv]) == 0, argv
        with StreamDecoder(z, codecs=shared_codecs("cpu")) as dec:
            assert "".join(s.frame_type for s in dec.scan()) == want, argv


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a video")
    cases = [
        ["encode", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "a.zvc69")],
        ["encode", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "a.zvc69")],
        ["decode", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "a.y4m")],
        ["encode", "demo:64x48", "-o", str(tmp_path / "a.zvc69"), "--frames", "1",
         "--gop", "0"],
    ]
    for argv in cases:
        assert main([*argv, "--device", "cpu"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("zvc69: error:"), err
    assert not (tmp_path / "a.zvc69").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_ctrl_c_leaves_a_playable_file(tmp_path):
    out = tmp_path / "cut.zvc69"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codec.cli", "encode", "demo:96x64", "-o", str(out),
         "--frames", "400", "--device", "cpu", "--threads", "1"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    partial = out.with_name(out.name + ".partial")
    deadline = time.time() + 120
    while time.time() < deadline and (not partial.exists() or partial.stat().st_size < 3000):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert out.exists() and not partial.exists()
    with StreamDecoder(out, codecs=shared_codecs("cpu")) as dec:
        assert 1 <= dec.num_frames < 400
        assert dec.damage is None
        frames = [f for f, _ in dec.frames()]
    assert len(frames) == dec.num_frames


def test_demo_command_checks_round_trip(tmp_path, capsys):
    out = tmp_path / "demo.zvc69"
    assert main(["demo", "--size", "96x64", "--frames", "4", "-o", str(out), "--device",
                 "cpu"]) == 0
    text = capsys.readouterr().out
    assert "equals the encoder's reconstruction: yes" in text
    assert out.exists()


def test_stream_cut_inside_its_first_frame_is_an_error(tmp_path, capsys):
    """Nothing to decode is an error naming the file, not an empty output and exit code 0."""
    z = tmp_path / "x.zvc69"
    assert main(["encode", "demo:64x48", "-o", str(z), "--frames", "2", "--device", "cpu"]) == 0
    cut = tmp_path / "cut.zvc69"
    cut.write_bytes(z.read_bytes()[:200])  # file header and part of frame 0's payload
    capsys.readouterr()
    assert main(["decode", str(cut), "-o", str(tmp_path / "back.y4m"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "zvc69: error:" in err and "no complete frame" in err and "cut.zvc69" in err
    assert not (tmp_path / "back.y4m").exists()
