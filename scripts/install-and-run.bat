@echo off
rem Ola Assistant for Windows: double-click to install (first time), update and start it.
rem The work is done by install-and-run.ps1 next to this file; arguments are passed on.
powershell.exe -NoProfile -ExecutionPolicy Bypass -File "%~dp0install-and-run.ps1" %*
if errorlevel 1 pause
