# Remove what install-and-run.ps1 installed: the environment (.venv), the private Python and uv
# (.uv) and the Start-menu shortcut. Your settings, conversations, logs and downloaded models are
# listed and kept unless you answer "y" (or pass -DeleteData); -KeepData never asks. This folder
# itself stays: delete it by hand. Close Ola Assistant first (Windows keeps running files locked).
#Requires -Version 5.1
param([switch]$DeleteData, [switch]$KeepData)

$ErrorActionPreference = 'Stop'
$Root = Split-Path -Parent $PSScriptRoot
Set-Location -LiteralPath $Root
$Venv = if ($env:VENV) { $env:VENV } else { Join-Path $Root '.venv' }
$Python = Join-Path $Venv 'Scripts\python.exe'

# Ask the installed app where the user's data is, before the app is removed.
$data = @()
if (Test-Path -LiteralPath $Python) {
    $data = @(& $Python -m app.user_data 2>$null | ForEach-Object {
        $bytes, $folder = $_ -split "`t", 2
        [pscustomobject]@{ GB = [math]::Round([double]$bytes / 1e9, 2); Folder = $folder }
    })
}

$link = Join-Path ([Environment]::GetFolderPath('Programs')) 'Ola Assistant.lnk'
Remove-Item -LiteralPath $link -Force -ErrorAction SilentlyContinue
foreach ($folder in @($Venv, (Join-Path $Root '.uv'))) {
    if (Test-Path -LiteralPath $folder) {
        try { Remove-Item -LiteralPath $folder -Recurse -Force }
        catch { Write-Host "Could not remove $folder ($_). Close Ola Assistant and run this again."; exit 1 }
    }
}
Write-Host "Removed Ola Assistant's environment ($Venv) and its Start-menu shortcut."

if ($data.Count -eq 0) { exit 0 }
Write-Host 'Your data (settings, conversations, logs, downloaded models):'
$data | ForEach-Object { Write-Host ("  {0,8:N2} GB  {1}" -f $_.GB, $_.Folder) }
$delete = $DeleteData
if (-not $DeleteData -and -not $KeepData) {
    $delete = (Read-Host 'Delete these too? [y/N]') -match '^(y|yes)$'
}
if ($delete) {
    $data | ForEach-Object { Remove-Item -LiteralPath $_.Folder -Recurse -Force }
    Write-Host 'Deleted your data.'
} else {
    Write-Host 'Kept your data; delete those folders by hand if you change your mind.'
}
