"""The main window's building blocks; each takes plain data or events, never the Assistant itself."""
