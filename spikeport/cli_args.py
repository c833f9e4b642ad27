"""Typed, range-checked command-line values, a parser whose errors are one line, and one-line errors and warnings.

Every option of `spikeport` has a type and a range; a value outside it is refused before any work starts, with one
line on stderr that names the option, the value and what is allowed, and exit code 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import errno
import json
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from spikeport.errors import IRValidationError, QuantizationRangeError, SpikeportError, UnsupportedNodeError
from spikeport.ir.formats import DEFAULT_CHIP


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: `spikeport CMD: error: ...; see spikeport CMD --help`."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse `type` accepting integers in [low, high] (either bound may be open)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {_range_text(low, high)}, got {value}")
        return value

    parse.__name__ = "integer"
    parse.bounds = (low, high, False)  # type: ignore[attr-defined]  # for --help texts and tests
    return parse


def real(low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Callable[[str], float]:
    """An argparse `type` accepting finite floats in [low, high] ((low, high] with `low_open`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        below = low is not None and (value <= low if low_open else value < low)
        if not math.isfinite(value) or below or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {_range_text(low, high, low_open)}, got {text}")
        return value

    parse.__name__ = "number"
    parse.bounds = (low, high, low_open)  # type: ignore[attr-defined]  # for --help texts and tests
    return parse


def _range_text(low: float | None, high: float | None, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}]"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    return f"<= {high}" if high is not None else "finite"


def path(text: str) -> str:
    """An argparse `type` for file and directory names: any non-empty text without NUL characters."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    return text


def fail(command: str, message: str) -> int:
    """Print `message` as one line `spikeport COMMAND: error: ...` on stderr; returns exit code 2."""
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"spikeport {command}: error: {one_line}", file=sys.stderr)
    return 2


def naming(args: argparse.Namespace, exc: Exception) -> str:
    """The message of an error about a graph's content (a node, a parameter, a range), prefixed with the file the
    command read it from (`import GRAPH`, `validate TARGET`) unless it names that file already."""
    subject = getattr(args, "graph", None) or getattr(args, "target", None)
    about_graph = isinstance(exc, IRValidationError | UnsupportedNodeError | QuantizationRangeError)
    if not subject or not about_graph or Path(subject).name in str(exc):
        return str(exc)
    return f"{subject}: {exc}"


def os_error_text(exc: OSError | MemoryError, args: argparse.Namespace) -> str:
    """One line for an operating-system error: what failed and the path (the command's own if the error has none);
    for a failed allocation, what to make smaller."""
    if isinstance(exc, MemoryError):
        return f"out of memory ({exc or 'allocation failed'}); use fewer or shorter inputs (--samples, --steps)"
    reason = exc.strerror or str(exc) or type(exc).__name__
    given = [getattr(args, name, None) for name in ("out", "run_dir", "target", "graph")]
    where = exc.filename if exc.filename is not None else next((p for p in given if p), "?")
    fix = {
        errno.ENOSPC: "free some space or write elsewhere",
        errno.EROFS: "write to a writable location",
        errno.EACCES: "check the permissions",
        errno.EPERM: "check the permissions",
        errno.ENOTDIR: "a part of the path is a file, not a directory",
        errno.EISDIR: "give a file, not a directory",
        errno.EEXIST: "a file is in the way of a directory",
    }.get(exc.errno)
    return f"{reason}: {where}" + (f"; {fix}" if fix else "")


def one_line_warnings(command: str | None):
    """A `warnings.showwarning` that prints each warning as one line `spikeport COMMAND: warning: ...` (no Python
    source line; `spikeport: warning: ...` before a command is known)."""
    prefix = f"spikeport {command}" if command else "spikeport"

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        print(f"{prefix}: warning: {text}", file=sys.stderr)

    return show


def progress(args: argparse.Namespace) -> bool:
    """Show progress bars: only on a terminal (never into logs or pipes) and not with --no-progress."""
    return not getattr(args, "no_progress", True) and stderr_is_terminal()


def keep_result(args: argparse.Namespace, data: dict) -> None:
    """Keep `data` as the command's machine-readable result: `spikeport.cli.main` prints it as one JSON object
    with --json."""
    args.result = data


def refuse(args: argparse.Namespace, names: tuple[str, ...], why: str) -> None:
    """Raise SpikeportError naming the first of the options `names` given where it would be ignored."""
    for name in names:
        if getattr(args, name, None) not in (None, False):
            flag = "--" + name.replace("_", "-")
            raise SpikeportError(f"{flag} {why}; omit {flag}")


def stderr_is_terminal() -> bool:
    """Whether stderr (where progress bars go) is a terminal: the one place the CLI decides to draw them, so a
    log file or a pipe never fills with bar redraws."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _plain(value: Any) -> Any:
    """A JSON-encodable form of a result value: dataclasses as dicts, NumPy values as Python ones, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "tolist"):  # NumPy arrays and scalars (NumPy is not imported for --help)
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


def json_text(result: Mapping[str, Any]) -> str:
    """`--json` output: the command's result as one JSON object (sorted keys, one line)."""
    return json.dumps(result, default=_plain, sort_keys=True, allow_nan=True)


def shipped_chips() -> tuple[str, ...]:
    """Chip targets shipped in the package (`targets/chips/*.toml` with number formats), found without importing
    `spikeport.targets` (which loads torch); the same rule as `spikeport.targets.chip.shipped_chips`."""
    import importlib.util
    import tomllib
    from pathlib import Path

    folder = Path(next(iter(importlib.util.find_spec("spikeport.targets").submodule_search_locations))) / "chips"
    return tuple(sorted(p.stem for p in folder.glob("*.toml") if "kind" not in tomllib.loads(p.read_text())))


def add_chip(
    p: argparse.ArgumentParser | Any, help_text: str, default: str = DEFAULT_CHIP, files: bool = False
) -> None:
    """Add `--chip` to `p` (a parser or an argument group): a shipped chip, or with `files` also a chip file."""
    chips = shipped_chips()

    def chip(value: str) -> str:
        if value in chips or (files and (value.endswith(".toml") or "/" in value)):
            return value
        also = " or the path of a chip file (.toml)" if files else ""
        raise argparse.ArgumentTypeError(f"unknown chip {value!r}; choose {', '.join(chips)}{also}")

    what = f"{'|'.join(chips)}{'|FILE.toml' if files else ''}"
    p.add_argument("--chip", default=default, type=chip, metavar=what, help=f"{help_text} (default %(default)s)")


POSITIVE = integer(1)
NON_NEGATIVE = integer(0)
SEED = integer(0, 2**32 - 1)
PROBABILITY = real(0.0, 1.0)
POSITIVE_SECONDS = real(0.0, low_open=True)


__all__ = [
    "NON_NEGATIVE",
    "POSITIVE",
    "POSITIVE_SECONDS",
    "PROBABILITY",
    "SEED",
    "OneLineParser",
    "fail",
    "integer",
    "json_text",
    "keep_result",
    "naming",
    "one_line_warnings",
    "os_error_text",
    "path",
    "progress",
    "real",
    "refuse",
    "stderr_is_terminal",
]
