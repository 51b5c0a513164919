"""`ola-assistant bench TOPIC`: speed figures for one part of the assistant.

Each topic is a module under ``ola_core/commands`` listed in :data:`TOPIC_MODULES`; like a
sub-command, it exposes ``register(topics)``, adds its parser to ``topics`` and sets
``handler`` (``args -> exit code``). Adding a topic is one line here.
"""

from __future__ import annotations

import argparse
import importlib

# Modules under ola_core/commands, one per `bench` topic, in --help order.
TOPIC_MODULES: tuple[str, ...] = ("bench_speech", "bench_engine", "bench_gpu")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the speed of a part of the assistant (speech, engine, …)",
        description=__doc__,
    )
    topics = parser.add_subparsers(dest="topic", metavar="TOPIC", required=True)
    for name in TOPIC_MODULES:
        importlib.import_module(f"ola_core.commands.{name}").register(topics)
