"""`zvc69-studio [FILE] [--screenshot out.png --frame N --overlay mv,skip,...]`."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from types import TracebackType

from app import APPLICATION, ORGANIZATION
from app.views.overlays import OVERLAY_NAMES

NO_DISPLAY = ("zvc69-studio: no display available (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
              "Run it in a desktop session, or render the window to an image without a display:\n"
              "  zvc69-studio FILE --screenshot out.png [--frame N] [--overlay mv,skip,residual]")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zvc69-studio", description="ZVC69 Studio: player and stream analyzer.")
    p.add_argument("file", nargs="?", help="a .zvc69 stream to open")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="render the window offscreen to this image and exit")
    p.add_argument("--frame", type=int, default=0, metavar="N",
                   help="frame to show in the screenshot (default 0)")
    p.add_argument("--overlay", default="", metavar="LIST",
                   help=f"comma-separated overlays to switch on: {','.join(OVERLAY_NAMES)}")
    p.add_argument("--size", default="1480x920", metavar="WxH",
                   help="window size for --screenshot (default 1480x920)")
    p.add_argument("--self-test", action="store_true",
                   help="encode and decode the built-in demo source with the installed models "
                        "(no display needed); exit 0 only if the round trip is exact")
    return p


def parse_overlays(text: str) -> list[str]:
    """`"mv, skip"` -> ["mv", "skip"]; raises ValueError naming unknown overlays."""
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in OVERLAY_NAMES]
    if unknown:
        raise ValueError(f"unknown overlay {', '.join(unknown)}; choose from "
                         f"{', '.join(OVERLAY_NAMES)}")
    return names


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1480x920, not {text!r}") from None
    if not (320 <= w <= 8192 and 240 <= h <= 8192):
        raise ValueError("--size must be between 320x240 and 8192x8192")
    return w, h


def has_display() -> bool:
    """Whether Qt can show windows here (on Linux: X11, Wayland or a chosen QPA platform)."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def install_excepthook(report: Callable[[str], None]) -> None:
    """Bugs in slots go to the status bar as one line (the traceback to stderr, for reports)."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        traceback.print_exception(kind, exc, tb)
        text = (str(exc).strip().splitlines() or [""])[0]
        report(f"Internal error ({kind.__name__}): {text}")

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `zvc69-studio`; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overlays = parse_overlays(args.overlay)
        size = parse_size(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    if args.self_test:  # before Qt is imported: works on machines without a display
        from codec.selftest import run_selftest

        result = run_selftest()
        print("\n".join(f"zvc69-studio self-test: {line}" for line in result.lines))
        return 0 if result.ok else 1
    if args.screenshot is None and not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    if args.screenshot is not None:  # rendered offscreen, display or not
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    from app.mainwindow import MainWindow
    from app.theme import apply_theme

    try:  # import the codec (ONNX Runtime) now: importing it on a worker later stalls the UI
        import codec.api  # noqa: F401
    except Exception:  # reported when a stream is opened
        pass
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "zvc69-studio"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    apply_theme(app)  # type: ignore[arg-type]
    from PySide6.QtGui import QIcon

    from app.resources import icon_path

    if icon_path().is_file():
        app.setWindowIcon(QIcon(str(icon_path())))  # type: ignore[attr-defined]

    if args.screenshot is not None:
        import tempfile

        from PySide6.QtCore import QSettings

        from app.screenshot import take_screenshot

        with tempfile.TemporaryDirectory() as tmp:  # a screenshot leaves the settings alone
            settings = QSettings(os.path.join(tmp, "studio.ini"), QSettings.Format.IniFormat)
            window = MainWindow(settings=settings, restore=False, dialogs=False)
            try:
                error = take_screenshot(window, args.screenshot, args.file, args.frame,
                                        overlays, size)
            finally:
                window.shutdown()
                window.deleteLater()
        if error:
            print(f"zvc69-studio: {error}", file=sys.stderr)
            return 1
        print(f"zvc69-studio: saved {args.screenshot}")
        return 0

    window = MainWindow()
    install_excepthook(window.report)
    window.show()
    if args.file:
        window.open_file(args.file)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
