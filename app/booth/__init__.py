"""Demo-booth mode's Qt views: the kiosk window, its screens and the wiring (docs/booth.md)."""
