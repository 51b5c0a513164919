"""Every conversation kept locally (SQLite), its recorder on the assistant's events, and its export."""
