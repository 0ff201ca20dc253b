#!/usr/bin/env bash
# Build ZVC69 Studio for Linux x86_64: the PyInstaller bundle, a portable .tar.gz and a .deb
# (desktop entry, icon, MIME type for .zvc69). Then run the bundle's self-test and report sizes
# and start-up time. Usage: bash packaging/build.sh   (ZVC69_GPU=1 keeps the CUDA provider)
# Output: dist/zvc69-studio/ , dist/zvc69-studio-VERSION-linux-x86_64.tar.gz , dist/*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  python3 -m venv .venv
  PY=.venv/bin/python
fi
"$PY" -m pip install -q -e ".[package]"
VERSION=$("$PY" -c "import codec; print(codec.__version__)")
ARCH=amd64
NAME=zvc69-studio
DIST=$ROOT/dist
rm -rf "$DIST/$NAME" build/pyinstaller
t0=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" \
  --workpath build/pyinstaller packaging/zvc69.spec
echo "bundle built in $(( $(date +%s) - t0 )) s"

# 1. The bundle checks itself with no display: an exact round trip through the bundled models.
env -u DISPLAY -u WAYLAND_DISPLAY -u ZVC69_MODELS "$DIST/$NAME/$NAME" --self-test
env -u ZVC69_MODELS "$DIST/$NAME/zvc69" --version

# 2. Portable archive.
TARBALL=$DIST/$NAME-$VERSION-linux-x86_64.tar.gz
tar -C "$DIST" -czf "$TARBALL" "$NAME"

# 3. Debian package: /opt/zvc69-studio, commands in /usr/bin, desktop entry, icon, MIME type.
STAGE=build/deb/$NAME
rm -rf build/deb
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/icons/hicolor/256x256/apps" "$STAGE/usr/share/icons/hicolor/scalable/apps" \
  "$STAGE/usr/share/mime/packages" "$STAGE/usr/share/doc/$NAME"
cp -a "$DIST/$NAME" "$STAGE/opt/$NAME"
ln -s "/opt/$NAME/$NAME" "$STAGE/usr/bin/$NAME"
ln -s "/opt/$NAME/zvc69" "$STAGE/usr/bin/zvc69"
cp packaging/zvc69.desktop "$STAGE/usr/share/applications/$NAME.desktop"
cp resources/icons/zvc69.png "$STAGE/usr/share/icons/hicolor/256x256/apps/$NAME.png"
cp resources/icons/zvc69.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/$NAME.svg"
cp packaging/zvc69-mime.xml "$STAGE/usr/share/mime/packages/zvc69.xml"
cp packaging/LICENSES.md "$STAGE/usr/share/doc/$NAME/LICENSES.md"
SIZE_KB=$(du -sk "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: $NAME
Version: $VERSION
Section: video
Priority: optional
Architecture: $ARCH
Installed-Size: $SIZE_KB
Depends: libc6 (>= 2.28), libgl1, libegl1, libfontconfig1, libxkbcommon0, libxkbcommon-x11-0, libdbus-1-3, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xkb1, libx11-xcb1
Maintainer: ZVC69 Studio developers <dev@zvc69.invalid>
Homepage: https://zvc69.invalid
Description: ZVC69 Studio: learned video codec, player and stream analyzer
 Encode any video into .zvc69 streams with the ZVC69 neural codec, play them
 and inspect frame types, sizes, motion vectors, skip masks, residual energy
 and per-stage timings. Includes the zvc69 command line.
CONTROL
for script in postinst postrm; do
  cat > "$STAGE/DEBIAN/$script" <<'HOOK'
#!/bin/sh
set -e
if command -v update-mime-database >/dev/null 2>&1; then update-mime-database /usr/share/mime || true; fi
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true; fi
exit 0
HOOK
  chmod 755 "$STAGE/DEBIAN/$script"
done
DEB=$DIST/${NAME}_${VERSION}_$ARCH.deb
fakeroot dpkg-deb --build -Zxz "$STAGE" "$DEB" >/dev/null

# 4. Start-up: time to a rendered main window (offscreen), from a cold process.
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
env -u DISPLAY QT_QPA_PLATFORM=offscreen "$DIST/$NAME/$NAME" --screenshot build/startup.png >/dev/null
t1=$(ms)
env -u ZVC69_MODELS "$DIST/$NAME/$NAME" --self-test >/dev/null
t2=$(ms)
echo
echo "ZVC69 Studio $VERSION for Linux x86_64"
echo "  bundle   $DIST/$NAME/: $(du -sh "$DIST/$NAME" | cut -f1)"
echo "  tar.gz   $TARBALL: $(du -h "$TARBALL" | cut -f1)"
echo "  deb      $DEB: $(du -h "$DEB" | cut -f1)"
echo "  start-up to a rendered window: $((t1 - t0)) ms; self-test: $((t2 - t1)) ms"
