# Ola Assistant in one step on Windows: a private Python and environment, the app with the right
# torch build, a Start-menu shortcut, then the app starts. install-and-run.bat runs this file
# (double-click it). Running it again after an update (git pull, a newer release zip unpacked
# over this folder) updates the same environment in place. Arguments go to ola-assistant.
# uninstall.bat removes it again.
#
# How: uv, fetched from PyPI as its Windows wheel (a zip holding uv.exe; no Python needed, the
# file's SHA-256 is checked against PyPI's), brings a private Python 3.11 into .uv\python and makes
# the environment .venv; `uv pip install --torch-backend=auto` then installs the CUDA build of
# torch that matches the installed NVIDIA driver, or the CPU build when there is none.
#
# Settings (environment variables): VENV (the environment folder), OLA_TORCH_BACKEND (default
# auto; e.g. cpu or cu128 to choose yourself).
#Requires -Version 5.1
param([Parameter(ValueFromRemainingArguments = $true)][string[]]$AppArgs = @())

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'  # Invoke-WebRequest is many times slower with its bar
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12

$Root = Split-Path -Parent $PSScriptRoot  # scripts\ -> the checkout or release folder
Set-Location -LiteralPath $Root
$Venv = if ($env:VENV) { $env:VENV } else { Join-Path $Root '.venv' }
$UvHome = Join-Path $Root '.uv'
$Stamp = Join-Path $Venv '.ola-installed'
$Python = Join-Path $Venv 'Scripts\python.exe'
$PythonW = Join-Path $Venv 'Scripts\pythonw.exe'
$Program = Join-Path $Venv 'Scripts\ola-assistant.exe'
$Backend = if ($env:OLA_TORCH_BACKEND) { $env:OLA_TORCH_BACKEND } else { 'auto' }

function Say([string]$Message) { Write-Host "ola-assistant install: $Message" }

function Invoke-Checked([string]$What, [scriptblock]$Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE); see the messages above." }
}

function Get-Uv {
    $onPath = Get-Command uv -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    $uv = Join-Path $UvHome 'bin\uv.exe'
    if (Test-Path -LiteralPath $uv) { return $uv }
    Say 'fetching uv from PyPI'
    $tag = if ($env:PROCESSOR_ARCHITECTURE -eq 'ARM64') { 'win_arm64' } else { 'win_amd64' }
    $release = Invoke-RestMethod -Uri 'https://pypi.org/pypi/uv/json' -UseBasicParsing
    $wheel = $release.urls | Where-Object { $_.filename -like "*$tag.whl" } | Select-Object -First 1
    if (-not $wheel) { throw "PyPI has no uv wheel for $tag" }
    $work = Join-Path ([IO.Path]::GetTempPath()) ("ola-uv-" + [guid]::NewGuid())
    New-Item -ItemType Directory -Path $work | Out-Null
    try {
        $zip = Join-Path $work 'uv.zip'  # a wheel is a zip file; Expand-Archive wants the extension
        Invoke-WebRequest -Uri $wheel.url -OutFile $zip -UseBasicParsing
        if ((Get-FileHash -LiteralPath $zip -Algorithm SHA256).Hash -ne $wheel.digests.sha256) {
            throw 'the downloaded uv wheel does not match the checksum PyPI lists'
        }
        Expand-Archive -LiteralPath $zip -DestinationPath (Join-Path $work 'unpacked')
        $exe = Get-ChildItem -LiteralPath (Join-Path $work 'unpacked') -Recurse -Filter 'uv.exe' | Select-Object -First 1
        New-Item -ItemType Directory -Force -Path (Split-Path $uv) | Out-Null
        Copy-Item -LiteralPath $exe.FullName -Destination $uv -Force
    }
    finally { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
    return $uv
}

function Add-StartMenuShortcut {
    # pythonw: no console window behind the app. The icon is made from the app's PNG by Pillow.
    $icon = Join-Path $Venv 'ola-assistant.ico'
    $png = Join-Path $Root 'assets\icons\hicolor\256x256\apps\ola-assistant.png'
    & $Python -c "import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], sizes=[(16, 16), (32, 32), (48, 48), (256, 256)])" $png $icon
    $link = Join-Path ([Environment]::GetFolderPath('Programs')) 'Ola Assistant.lnk'
    $shortcut = (New-Object -ComObject WScript.Shell).CreateShortcut($link)
    $shortcut.TargetPath = $PythonW
    $shortcut.Arguments = '-m app.entry'
    $shortcut.WorkingDirectory = $Root
    $shortcut.Description = 'Ola Assistant: a local voice and vision assistant'
    if (Test-Path -LiteralPath $icon) { $shortcut.IconLocation = $icon }
    $shortcut.Save()
    Say "added $link"
}

$env:UV_PYTHON_INSTALL_DIR = Join-Path $UvHome 'python'  # the private Python lives in this folder
$env:UV_PYTHON_PREFERENCE = 'only-managed'  # never a Python found elsewhere on the machine
$wanted = "uv $Backend " + (Get-FileHash -LiteralPath (Join-Path $Root 'pyproject.toml') -Algorithm SHA256).Hash
$installed = if (Test-Path -LiteralPath $Stamp) { (Get-Content -LiteralPath $Stamp -Raw).Trim() } else { '' }
if (-not (Test-Path -LiteralPath $Program) -or $installed -ne $wanted) {
    $uv = Get-Uv
    if (-not (Test-Path -LiteralPath $Python)) {
        Say "making the environment $Venv (private Python 3.11)"
        Invoke-Checked 'making the environment' { & $uv venv --python 3.11 $Venv }
    }
    Say "installing the app (torch backend: $Backend)"
    Invoke-Checked 'installing' { & $uv pip install --python $Python "--torch-backend=$Backend" -e '.[full]' }
    Set-Content -LiteralPath $Stamp -Value $wanted -Encoding UTF8
    try { Add-StartMenuShortcut }
    catch { Say "note: could not add the Start-menu shortcut ($_); the app still runs from here" }
}
& $Program @AppArgs
exit $LASTEXITCODE
