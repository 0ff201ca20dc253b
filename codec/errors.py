"""Exception hierarchy: every error a user can cause is a ZVC69Error with a clear message."""

from __future__ import annotations


class ZVC69Error(Exception):
    """Base class of all errors the codec reports to users."""


class ZVC69FormatError(ZVC69Error):
    """A malformed .zvc69 stream; names what is wrong and the byte offset where it was found."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        text = message if offset is None else f"{message} (at byte offset {offset})"
        super().__init__(text)


class TruncatedError(ZVC69FormatError):
    """The stream ends before a structure it announces is complete."""


class CRCMismatchError(ZVC69FormatError):
    """A frame payload does not match the CRC-16 stored in its frame header."""


class ModelMismatchError(ZVC69Error):
    """The stream was made with a different model set, or a model file is wrong or damaged."""


class SourceError(ZVC69Error):
    """An input video or image cannot be opened or holds no usable video."""


class DeviceError(ZVC69Error):
    """A requested inference device or setting is not available."""
