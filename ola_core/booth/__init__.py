"""Demo-booth mode without Qt: the operator's config, visitors' sessions and their wipe, the word
filter, person detection, the daily log and health file, and the watchdog (docs/booth.md)."""
