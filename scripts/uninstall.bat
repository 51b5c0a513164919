@echo off
rem Remove Ola Assistant (it asks before deleting your settings, conversations and models).
powershell.exe -NoProfile -ExecutionPolicy Bypass -File "%~dp0uninstall.ps1" %*
pause
