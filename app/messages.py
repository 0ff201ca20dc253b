"""One-line messages for problems in the app's workers (never a traceback)."""

from __future__ import annotations

from codec.errors import ZVC69Error


def describe_error(exc: BaseException, doing: str = "decoding") -> str:
    """What went wrong, in one line a user can act on; `doing` names the job in memory errors."""
    if isinstance(exc, ZVC69Error):
        return str(exc) or type(exc).__name__
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("codec"):
        return f"The ZVC69 codec is not available in this installation ({exc.name} is missing)."
    if isinstance(exc, FileNotFoundError):
        return f"File not found: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or exc}"
    if isinstance(exc, IsADirectoryError):
        return f"Is a directory, not a file: {exc.filename or exc}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"Cannot read or write a file{where}: {exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return f"Out of memory while {doing}: choose a smaller size or fewer frames."
    text = str(exc).strip().splitlines()
    return f"Unexpected error ({type(exc).__name__}): {text[0] if text else 'no details'}"
