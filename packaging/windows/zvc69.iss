; Inno Setup script for ZVC69 Studio (Windows x64). Built by packaging\windows\build.ps1.
; Installs the PyInstaller folder, Start menu and desktop shortcuts, and associates .zvc69.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6F1C2B9E-69A1-4C1F-9D69-5A5643363953}
AppName=ZVC69 Studio
AppVersion={#AppVersion}
AppPublisher=ZVC69 Studio developers
DefaultDirName={autopf}\ZVC69 Studio
DefaultGroupName=ZVC69 Studio
OutputDir=..\..\dist
OutputBaseFilename=zvc69-studio-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icons\zvc69.ico
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
Compression=lzma2/max
SolidCompression=yes
ChangesAssociations=yes
PrivilegesRequiredOverridesAllowed=dialog
LicenseFile=..\LICENSES.md

[Files]
Source: "..\..\dist\zvc69-studio\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\ZVC69 Studio"; Filename: "{app}\zvc69-studio.exe"
Name: "{autodesktop}\ZVC69 Studio"; Filename: "{app}\zvc69-studio.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
Name: "addpath"; Description: "Add the zvc69 command line to PATH"; Flags: unchecked

[Registry]
Root: HKA; Subkey: "Software\Classes\.zvc69"; ValueType: string; ValueData: "ZVC69Studio.Stream"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\ZVC69Studio.Stream"; ValueType: string; ValueData: "ZVC69 video stream"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\ZVC69Studio.Stream\DefaultIcon"; ValueType: string; ValueData: "{app}\zvc69-studio.exe,0"
Root: HKA; Subkey: "Software\Classes\ZVC69Studio.Stream\shell\open\command"; ValueType: string; ValueData: """{app}\zvc69-studio.exe"" ""%1"""
Root: HKA; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addpath; Check: IsAdminInstallMode

[Run]
Filename: "{app}\zvc69-studio.exe"; Description: "Start ZVC69 Studio"; Flags: nowait postinstall skipifsilent
