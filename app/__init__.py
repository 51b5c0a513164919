"""The PySide6 desktop GUI. Talks to ``ola_core`` through the Assistant's API and events only;
never imports torch."""
