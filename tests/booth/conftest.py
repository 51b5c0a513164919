"""The booth tests share the assistant tests' tiny checkpoint, loaded once (tests/assistant/conftest.py)."""

from tests.assistant.conftest import loaded, tiny_checkpoint  # noqa: F401  (pytest fixtures)
