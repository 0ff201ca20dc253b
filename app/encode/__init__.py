"""The Encode view: encode a source into a .zvc69 stream and see what the settings do.

`EncodeView` is the widget (a window or a dock's content); `install_encode_action(window)` adds
File ▸ Encode… to a main window and opens finished encodes with its `open_file(path)`.
"""

from app.encode.launcher import EncodeLauncher, install_encode_action
from app.encode.view import EncodeView

__all__ = ["EncodeLauncher", "EncodeView", "install_encode_action"]
