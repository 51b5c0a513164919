"""One module per `ola-assistant` sub-command; each exposes ``register(subparsers)``."""
