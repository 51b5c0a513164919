"""First-run setup, settings and about dialogs."""
