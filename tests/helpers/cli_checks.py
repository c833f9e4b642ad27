"""Running `spikeport` in-process for option checks: captured results, one-line refusals, shared tiny runs, spies,
and the registry of checks that `tests/cli/test_every_option.py` runs (each names the options it covers)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pytest

from spikeport.cli import main

TINY = ["--subjects", "2", "--trials-per-class", "12", "--steps", "8", "--hidden", "8", "--epochs", "2"]
"""A decoder run with 36 training samples: more than one fine-tuning batch (32), so batch order can matter."""


DATA_OPTIONS = "--data --data-path --files --events --subjects"
SHAPE_OPTIONS = "--subjects --trials-per-class --steps --hidden --epochs"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def cli(*argv: object) -> Result:
    """Run `spikeport ARGV` in this process; returns its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return Result(code, out.getvalue(), err.getvalue())


def ok(*argv: object) -> Result:
    result = cli(*argv)
    assert result.code == 0, f"spikeport {' '.join(map(str, argv))}: exit {result.code}: {result.err}"
    return result


def refused_with(code: int, *argv: object) -> str:
    """Assert `spikeport ARGV` exits with `code` and one line on stderr; returns that line."""
    result = cli(*argv)
    lines = result.err.strip().splitlines()
    assert result.code == code and len(lines) == 1, f"{argv}: exit {result.code}, stderr {result.err!r}"
    return lines[0]


def refused(option: str, *argv: object) -> str:
    """Assert `spikeport ARGV` stops with exit 2 and one line on stderr naming `option`; returns that line."""
    result = cli(*argv)
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1, f"{argv}: exit {result.code}, stderr {result.err!r}"
    assert option in lines[0], f"{option} not named in {lines[0]!r}"
    return lines[0]


class Runs:
    """Tiny runs and files shared by the checks, each built on first use."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def fresh(self, name: str) -> Path:
        """An empty folder of its own for one check."""
        path = self.base / "checks" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def copy(self, name: str) -> Path:
        """A copy of the decoder run that a check may change."""
        path = self.base / "copies" / name
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(self.decoder, path)
        return path

    @cached_property
    def decoder(self) -> Path:
        """A decoder run through every stage: train, export, quantize, simulate (both), report."""
        run = self.base / "decoder"
        ok("train", "--out", run, *TINY)
        ok("export", run)
        ok("quantize", run)
        ok("simulate", run)
        ok("simulate", run, "--backend", "lava")
        ok("report", run)
        return run

    @cached_property
    def arrays(self) -> dict[str, Path]:
        """The decoder run's test inputs and labels (a few samples) as a user's .npy files."""
        with np.load(self.decoder / "data.npz") as data:
            x, y = data["x_test"][:4], data["y_test"][:4]
        paths = {"x": self.base / "x.npy", "y": self.base / "y.npy"}
        np.save(paths["x"], x)
        np.save(paths["y"], y)
        return paths

    @cached_property
    def saturating(self) -> tuple[Path, Path]:
        """A deploy graph whose membrane voltages saturate, and inputs for it (the reference counts saturation)."""
        from helpers.graphs import one_layer
        from spikeport.ir import save_deploy_graph

        graph = one_layer(np.zeros((3, 1)), dv=0, bias_mant=[-4096, -2048, 4095], bias_exp=7)
        graph = dataclasses.replace(graph, metadata={"dt": 1e-3})  # a report needs the step's length
        inputs = self.base / "sat_inputs.npy"
        np.save(inputs, np.zeros((2, 40, 1), dtype=np.int64))
        return save_deploy_graph(graph, self.base / "sat.deploy.npz"), inputs

    @cached_property
    def imperfect_nir(self) -> Path:
        """A recurrent NIR graph whose hidden layer's spikes change under 8-bit quantization (agreement < 99.5%)."""
        from helpers.nir_graphs import recurrent_graph
        from spikeport.export import write_nir

        graph = recurrent_graph(np.random.default_rng(8), n_in=16, hidden=20, n_out=4, affine_biases=True)
        return write_nir(graph, self.base / "recurrent.nir")

    def family_run(self, model: str, *options: str) -> Path:
        run = self.base / model
        if not (run / "model.deploy.npz").exists():
            ok("train", "--out", run, "--model", model, *options)
            ok("export", run)
            ok("quantize", run)
        return run

    @cached_property
    def isam(self) -> Path:
        # 8 trials per class: the default 5 shots leave 3 per class to test
        return self.family_run("isam-mtl", "--subjects", "3", "--trials-per-class", "8", "--steps", "8", "--hidden",
                               "4", "--epochs", "1")  # fmt: skip

    @cached_property
    def rat(self) -> Path:
        return self.family_run("rat-snn", "--trials-per-class", "4", "--steps", "4", "--hidden", "4", "--epochs", "1")


CHECKS: dict[str, tuple[Callable[[Runs, pytest.MonkeyPatch], None], bool, dict[str, str]]] = {}
"""Check name -> (the check, slow?, the options it covers by command); its docstring names what it observes."""


def check(covers: dict[str, str], *, slow: bool = False):
    """Register a check of the options `covers` lists ({"command": "--option --option"})."""

    def register(fn):
        CHECKS[fn.__name__] = (fn, slow, covers)
        return fn

    return register


def json_object(result: Result) -> dict:
    """stdout of a --json run: exactly one JSON object."""
    data = json.loads(result.out)
    assert isinstance(data, dict) and result.out.count("\n") == 1
    return data


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI believe stderr is a terminal, so progress bars are drawn (into the captured stderr)."""
    import spikeport.cli_args
    import spikeport.cli_arrays

    monkeypatch.setattr(spikeport.cli_args, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(spikeport.cli_arrays, "stderr_is_terminal", lambda: True, raising=False)


def spy(monkeypatch: pytest.MonkeyPatch, module, name: str, returns=None) -> list[dict]:
    """Replace `module.name` by a function that records its keyword arguments (and returns `returns(**kwargs)`)."""
    calls: list[dict] = []

    def fake(*args, **kwargs):
        calls.append({"args": args, **kwargs})
        return returns(*args, **kwargs) if returns else None

    monkeypatch.setattr(module, name, fake)
    return calls
