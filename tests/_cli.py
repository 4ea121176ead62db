"""Run ``dmad`` in this process, as the console script does, with its streams captured.

The tests call :func:`dmad.cli.main` (not ``app`` directly) so that they check what a user gets:
exit codes 0 / 2 / 1 and the one-line ``error: ...`` that ``main`` makes of dmad's exceptions.
typer's ``CliRunner`` only supplies the isolation: stdin/stdout/stderr swapped for buffers.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from dmad.cli import main


@dataclass
class CliResult:
    """What ``dmad ARGS`` returned and wrote, as a subprocess would report it."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path) -> CliResult:
    """``dmad ARGS`` run from the folder ``cwd`` (relative paths in ``args`` resolve there)."""
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with CliRunner().isolation() as (stdout, stderr, _):
            try:
                code = main(list(args))
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            # read inside the block: the buffers are closed once the isolation ends
            return CliResult(code, stdout.getvalue().decode(), stderr.getvalue().decode())
    finally:
        os.chdir(previous)
