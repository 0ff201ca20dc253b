#!/usr/bin/env bash
# Build ZVC69 Studio for macOS (untested here: the project's CI machines run Linux).
# Needs Python 3.10+ and Xcode command line tools. Run from the repository root:
#   bash packaging/macos/build.sh
# Produces dist/ZVC69 Studio.app (with .zvc69 registered as its document type) and a .dmg.
# Signing/notarisation: set CODESIGN_ID to a "Developer ID Application" identity.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv
.venv/bin/python -m pip install -q -e ".[package]"
# The icon: Pillow writes .icns from the 256 px PNG.
.venv/bin/python -c "from PIL import Image; Image.open('resources/icons/zvc69.png').save('resources/icons/zvc69.icns')"
.venv/bin/python -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/zvc69.spec
"dist/zvc69-studio/zvc69" selftest
VERSION=$(.venv/bin/python -c "import codec; print(codec.__version__)")
if [ -n "${CODESIGN_ID:-}" ]; then
  codesign --deep --force --options runtime --sign "$CODESIGN_ID" "dist/ZVC69 Studio.app"
fi
hdiutil create -volname "ZVC69 Studio" -srcfolder "dist/ZVC69 Studio.app" -ov -format UDZO \
  "dist/zvc69-studio-$VERSION-macos.dmg"
