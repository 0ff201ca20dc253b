"""The ``zvc69`` command line: one function per subcommand, registered in ``COMMANDS``.

To add a subcommand, write ``_x_arguments(parser)`` and ``cmd_x(args) -> int`` and add
``"x": Command(help, _x_arguments, cmd_x)`` to ``COMMANDS``. Errors are reported by ``main``:
any ZVC69Error or OSError is one ``zvc69: error: ...`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codec import __version__, cli_codec
from codec.errors import ZVC69Error

PROG = "zvc69"
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Command:
    """A subcommand: its help line, how to declare its arguments, and what runs it."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help=".zvc69 file (a cut-off or .partial file is recovered)")
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.add_argument("--verify", action="store_true", help="read every payload and check its CRC")
    p.add_argument("--frames", type=int, default=0, metavar="N", help="list the first N frames")


def cmd_info(args: argparse.Namespace) -> int:
    """``zvc69 info FILE``: header, frame statistics, GOP structure, damage report."""
    from codec.info import describe, format_info

    d = describe(args.file, verify=args.verify)
    print(json.dumps(d, indent=2) if args.json else format_info(d, frames=max(args.frames, 0)))
    return 1 if d["errors"] else 0


def _selftest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")


def cmd_selftest(args: argparse.Namespace) -> int:
    """``zvc69 selftest``: round trip of the demo source; exit 0 only when exact."""
    from codec.selftest import run_selftest

    result = run_selftest(device=args.device)
    print("\n".join(result.lines))
    return 0 if result.ok else 1


COMMANDS: dict[str, Command] = {
    "info": Command("show what is inside a .zvc69 file", _info_arguments, cmd_info),
    "encode": Command("encode a video or image file into a .zvc69 stream",
                      cli_codec.encode_arguments, cli_codec.cmd_encode),
    "decode": Command("decode a .zvc69 stream to a video file or PNG frames",
                      cli_codec.decode_arguments, cli_codec.cmd_decode),
    "demo": Command("encode and decode the built-in demo source and print the figures",
                    cli_codec.demo_arguments, cli_codec.cmd_demo),
    "selftest": Command("check the installed models: an exact encode/decode round trip",
                        _selftest_arguments, cmd_selftest),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(prog=PROG, description="ZVC69 learned video codec")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.arguments(sub.add_parser(name, help=command.help, description=command.help))
    return parser


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _os_error_text(e: OSError) -> str:
    if e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zvc69`` with ``argv`` (default: sys.argv[1:]); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else EXIT_ERROR
    if args.command is None:
        parser.print_usage(sys.stderr)
        _error("a command is required: " + ", ".join(COMMANDS))
        return EXIT_ERROR
    try:
        return COMMANDS[args.command].run(args)
    except ZVC69Error as e:
        _error(str(e))
    except BrokenPipeError:  # e.g. `zvc69 info x | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        _error(_os_error_text(e))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
