"""Render the dashboard's main views headless into ``screenshots/*.svg`` for the README.

Runs the real ``--demo`` path (simulated clusters, the same Fleet as for real clusters) at
160×45 and saves one SVG per view::

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import logging

from knm_tui.cli import build_parser, prepare

SIZE = (160, 45)
# Each view's keys are pressed after the previous view's, in one running app.
VIEWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cloud-cluster", ()),
    ("all-clusters", ("0",)),
    ("edge-cluster", ("3",)),
    ("dead-cluster", ("4",)),
    ("pod-counts", ("1", "p")),
    ("filter-not-ready", ("0", "slash", *"!ready", "enter")),
    ("help", ("question_mark",)),
)


async def render(output: Path) -> list[Path]:
    """Start the demo, wait for every live cluster to prime, and save each view."""
    session = prepare(build_parser().parse_args(["--demo"]))
    written: list[Path] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            session.fleet.status(ctx).synced for ctx in session.fleet.contexts if ctx != "dc-legacy"
        ):
            await asyncio.sleep(0.1)
        async with session.app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.5)
            for name, keys in VIEWS:
                for key in keys:
                    await pilot.press(key)
                await pilot.pause(1.5 if "p" in keys else 0.5)
                path = output / f"{name}.svg"
                session.app.save_screenshot(filename=path.name, path=str(output))
                written.append(path)
    finally:
        session.close()
    return written


def main() -> None:
    """Write the screenshots (default folder: screenshots/)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots")
    args = parser.parse_args()
    logging.getLogger().addHandler(logging.NullHandler())
    args.output.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(render(args.output)):
        print(path)


if __name__ == "__main__":
    main()
