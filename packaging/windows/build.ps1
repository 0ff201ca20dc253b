# Build ZVC69 Studio on Windows x64 (untested here: the project's CI machines run Linux).
# Needs Python 3.10+ and Inno Setup 6 (iscc.exe on PATH). Run from the repository root:
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
$ErrorActionPreference = "Stop"
python -m venv .venv
.venv\Scripts\python -m pip install -q -e ".[package]"
# The icon: Pillow writes a multi-size .ico from the PNG.
.venv\Scripts\python -c "from PIL import Image; Image.open('resources/icons/zvc69.png').save('resources/icons/zvc69.ico', sizes=[(16,16),(32,32),(48,48),(64,64),(128,128),(256,256)])"
.venv\Scripts\python -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\zvc69.spec
dist\zvc69-studio\zvc69.exe selftest
if ($LASTEXITCODE -ne 0) { throw "self-test failed" }
$version = .venv\Scripts\python -c "import codec; print(codec.__version__)"
iscc /DAppVersion=$version packaging\windows\zvc69.iss
