"""Every option of every `spikeport` command changes what the command does, or is refused where it would be ignored.

Each check names the (command, option) pairs it covers and shows: a different file, printed result or exit code on a
tiny run, or a one-line refusal (exit 2) naming the option in a context where it would do nothing. The checks of
validate, import, report, adapt and evaluate are here; those of the run-directory stages are in
`tests/helpers/option_checks_stages.py`. `test_every_option_is_covered` walks the parser, so a new option that
nobody covers fails the suite (cheaply: it runs no command).

The checks share tiny runs built once per module (`Runs`); the expensive ones are `slow`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import helpers.option_checks_stages  # noqa: F401  (registers the stage checks)
from helpers.cli_checks import CHECKS, Runs, check, cli, json_object, ok, on_terminal, refused, refused_with, spy
from spikeport.cli_parser import build_parser, subcommand_parsers

IMPORT_READING = "--dt --tau-convention --samples --steps --rate --seed --calibration --inputs --distill --fine-weights"
"""Options of import that change how a graph is read, calibrated or checked (other printed results)."""


# ------------------------------------------------------------------ validate


@check({"validate": "--samples --steps --seed --rate --inputs --labels --json"}, slow=True)
def validate_input_options(runs: Runs, mp) -> None:
    """validate --samples: how many samples are compared; --steps, --seed, --rate: the random inputs of a deploy
    graph file (captured where they are validated); --inputs: the user's inputs instead, --labels: their task
    metrics; --json: one object with the comparisons."""
    import spikeport.validate as validate

    run, deploy = runs.decoder, runs.decoder / "model.deploy.npz"
    one = json_object(ok("validate", run, "--samples", "1", "--no-progress", "--json"))
    full = json_object(ok("validate", run, "--no-progress", "--json"))
    assert one["comparisons"][0]["values_compared"] < full["comparisons"][0]["values_compared"]
    real = validate.validate_graph
    seen = spy(mp, validate, "validate_graph", returns=lambda graph, inputs, **kw: real(graph, inputs, **kw))

    def inputs(*options: str) -> np.ndarray:
        ok("validate", deploy, "--samples", "2", "--no-progress", *options)
        return seen[-1]["args"][1]

    base = inputs()
    assert inputs("--steps", "7").shape[1] == 7 != base.shape[1]
    assert not np.array_equal(inputs("--seed", "1"), base)
    assert inputs("--rate", "0").sum() == 0 < base.sum()
    own = json_object(ok("validate", deploy, "--inputs", runs.arrays["x"], "--no-progress", "--json"))
    assert np.array_equal(seen[-1]["args"][1], np.load(runs.arrays["x"])) and own["bit_exact"] is True
    text = ok("validate", deploy, "--inputs", runs.arrays["x"], "--no-progress").out
    labelled = ok("validate", deploy, "--inputs", runs.arrays["x"], "--labels", runs.arrays["y"], "--no-progress")
    assert labelled.out != text and "accuracy" in labelled.out


@check({"validate": "--dt --tau-convention --reset --steps --seed --rate --labels --min-agreement"})
def validate_refusals(runs: Runs, mp) -> None:
    """validate refuses, naming the option, what the target would ignore: --dt, --tau-convention and --reset for a
    run directory or deploy graph (only a .nir graph is read with them); --steps, --seed and --rate for a run
    directory (its own test inputs); --labels without --inputs; --min-agreement without a float graph; and
    --reset subtract on a .nir graph (the chip resets to zero)."""
    deploy = runs.decoder / "model.deploy.npz"
    for option, value in (("--dt", "0.001"), ("--tau-convention", "norse"), ("--reset", "zero")):
        refused(option, "validate", runs.decoder, option, value)
        refused(option, "validate", deploy, option, value)
    for option, value in (("--steps", "3"), ("--seed", "1"), ("--rate", "0.5")):
        refused(option, "validate", runs.decoder, option, value)
    refused("--labels", "validate", deploy, "--labels", runs.arrays["y"])
    refused("--min-agreement", "validate", deploy, "--min-agreement", "90")
    refused("--reset", "validate", runs.decoder / "model.nir", "--reset", "subtract")


@check({"validate": "--dt --tau-convention --min-agreement"}, slow=True)
def validate_nir_options(runs: Runs, mp) -> None:
    """validate --dt and --tau-convention: how a .nir graph is read (other results, or an error naming the cause);
    --min-agreement: the fidelity verdict's threshold (exit 1 below it)."""
    args = ("validate", runs.decoder / "model.nir", "--samples", "2", "--steps", "10", "--no-progress")
    base = ok(*args)
    assert cli(*args, "--dt", "0.0005").out != base.out
    assert cli(*args, "--tau-convention", "norse") != base
    imperfect = ("validate", runs.imperfect_nir, "--samples", "4", "--steps", "40", "--no-progress")
    assert cli(*imperfect, "--min-agreement", "99.9").code == 1
    assert cli(*imperfect, "--min-agreement", "50").code == 0


@check({"validate": "--workers --no-progress"}, slow=True)
def validate_workers_and_progress(runs: Runs, mp) -> None:
    """validate --workers: the Lava run is split over that many processes (the value reaching the Lava runner);
    --no-progress: no Lava bar on a terminal; --json: one object with the comparisons."""
    import spikeport.validate as validate

    deploy = runs.decoder / "model.deploy.npz"
    real = validate.lava_over_ranks
    calls = spy(mp, validate, "lava_over_ranks", returns=lambda graph, inputs, **kw: real(graph, inputs, **kw))
    ok("validate", deploy, "--samples", "2", "--steps", "5", "--workers", "2", "--no-progress")
    assert calls[-1]["workers"] == 2
    on_terminal(mp)
    assert "Lava" in ok("validate", deploy, "--samples", "2", "--steps", "5").err
    assert "Lava" not in ok("validate", deploy, "--samples", "2", "--steps", "5", "--no-progress").err


# ------------------------------------------------------------------ import


@check({"import": "--reset --samples --steps --rate --seed"})
def import_refusals(runs: Runs, mp) -> None:
    """import --reset subtract: refused (NIR cannot say it, the chip resets to zero); --samples, --steps, --rate
    and --seed (the random calibration inputs) refused with --calibration, which replaces them."""
    args = ("import", runs.decoder / "model.nir", "--out", runs.fresh("import_reset") / "g.deploy.npz")
    refused("--reset", *args, "--reset", "subtract")
    for option, value in (("--samples", "3"), ("--steps", "12"), ("--rate", "0.6"), ("--seed", "3")):
        refused(option, *args, "--calibration", runs.arrays["x"], option, value)


@check({"import": f"--out --nir-out --chip --min-agreement --json {IMPORT_READING}"}, slow=True)
def import_options(runs: Runs, mp) -> None:
    """import --out and --nir-out: the files written; --dt, --tau-convention, --samples, --steps, --rate, --seed,
    --calibration, --inputs: how the graph is read, calibrated and checked (other printed agreement or an error);
    --fine-weights: a residual Dense per synapse; --min-agreement: the verdict's threshold; --distill: label-free
    fine-tuning;
    --chip: the chip recorded in the deploy graph; --json: one object naming the deploy graph."""
    from spikeport.ir import load_deploy_graph

    where = runs.fresh("import")
    nir = runs.decoder / "model.nir"
    out = where / "g.deploy.npz"
    args = ("import", nir, "--out", out, "--samples", "4", "--steps", "10")
    data = json_object(ok(*args, "--nir-out", where / "flat.nir", "--json"))
    assert data["deploy_graph"] == str(out) and out.is_file() and (where / "flat.nir").is_file()
    base = ok(*args)
    for option, value in (("--dt", "0.0005"), ("--samples", "3"), ("--steps", "12"), ("--seed", "3"),
                          ("--tau-convention", "norse"), ("--rate", "0.6"), ("--inputs", runs.arrays["x"]),
                          ("--distill", "1"), ("--fine-weights", "")):  # fmt: skip
        assert cli(*args, option, *filter(None, [value])) != base, option
    assert ok("import", nir, "--out", out, "--calibration", runs.arrays["x"]).out != base.out
    imperfect = ("import", runs.imperfect_nir, "--out", out, "--samples", "8", "--steps", "40")
    assert "below --min-agreement 99.5%" in refused_with(1, *imperfect, "--min-agreement", "99.5")
    assert ok(*imperfect, "--min-agreement", "50").err == ""
    for chip in ("loihi", "loihi2"):
        ok(*args, "--chip", chip)
        assert load_deploy_graph(out).chip == chip


# ------------------------------------------------------------------ report


@check({"report": "--chip --energy-proxy --format --json --inputs --labels --out"})
def report_options(runs: Runs, mp) -> None:
    """report --chip: the chip mapped and costed; --energy-proxy: another chip's figures for Loihi 2, labelled
    PROXY; --format md: also report.md; --json: one object, the report; --inputs/--labels/--out: a deploy graph
    file's report on the user's inputs with accuracy, written to --out (refused for a run directory)."""
    run = runs.copy("report")
    loihi = json_object(ok("report", run, "--json"))
    loihi2 = json_object(ok("report", run, "--chip", "loihi2", "--json"))
    assert loihi["chip"] != loihi2["chip"] and loihi["energy"] != loihi2["energy"]
    proxy = ok("report", run, "--chip", "loihi2", "--energy-proxy", "loihi")
    assert "PROXY" in proxy.out
    assert not (run / "report.md").exists()
    ok("report", run, "--format", "md")
    assert (run / "report.md").is_file()
    out = runs.fresh("report_inputs") / "r.json"
    deploy = run / "model.deploy.npz"
    plain = json_object(ok("report", deploy, "--inputs", runs.arrays["x"], "--out", out, "--json"))
    assert out.is_file() and plain["report"] == str(out)
    scored = json_object(ok("report", deploy, "--inputs", runs.arrays["x"], "--labels", runs.arrays["y"], "--out",
                            out, "--json"))  # fmt: skip
    assert scored != plain and "accuracy" in json.dumps(scored)
    refused("--inputs", "report", run, "--inputs", runs.arrays["x"])


# ------------------------------------------------------------------ adapt and evaluate (model families)


def _hook_spy(mp, family_module: str, hook: str) -> list[dict]:
    """Record what `spikeport adapt/evaluate` hands a family's step (its run_dir, options and progress flag)."""
    import importlib

    module = importlib.import_module(f"spikeport.train.models.{family_module}.{hook}")
    return spy(mp, module, f"{hook}_run", returns=lambda *a, **k: {"summary": [f"{hook} done"], "options": a[1]})


@check({"adapt": "--subject --shots --backend --seed --data-path --minutes --no-progress --json"})
def adapt_options_reach_the_family_or_are_refused(runs: Runs, mp) -> None:
    """adapt: each option the family's step reads reaches it (isam-mtl: --subject, --shots, --backend, --seed,
    --data-path; rat-snn: --minutes, --data-path); the others are refused naming the option and family;
    --no-progress: the step's progress flag; --json: one object, the step's result."""
    isam, rat = _hook_spy(mp, "isam", "adapt"), _hook_spy(mp, "rat_snn", "adapt")
    given = {"--subject": "4", "--shots": "2", "--backend": "lava", "--seed": "3", "--data-path": "d"}
    for option, value in given.items():
        ok("adapt", runs.isam, option, value)
        assert str(isam[-1]["args"][1][option[2:].replace("-", "_")]) == value
    for option, value in {"--minutes": "0.5", "--data-path": "d"}.items():
        ok("adapt", runs.rat, option, value)
        assert str(rat[-1]["args"][1][option[2:].replace("-", "_")]) == value
    assert "isam-mtl" in refused("--minutes", "adapt", runs.isam, "--minutes", "1")
    for option, value in (("--subject", "1"), ("--shots", "2"), ("--backend", "lava"), ("--seed", "3")):
        assert "rat-snn" in refused(option, "adapt", runs.rat, option, value)  # its readout refit is closed-form
    on_terminal(mp)
    ok("adapt", runs.isam)
    assert isam[-1]["args"][2] is True
    ok("adapt", runs.isam, "--no-progress")
    assert isam[-1]["args"][2] is False
    assert json_object(ok("adapt", runs.isam, "--shots", "3", "--json"))["options"]["shots"] == 3


@check({"evaluate": "--protocol --shots --data-path --streaming --backends --seed --no-progress --json"})
def evaluate_options_reach_the_family_or_are_refused(runs: Runs, mp) -> None:
    """evaluate: each option the family's step reads reaches it (isam-mtl: --protocol, --shots, --data-path,
    --streaming, --backends, --seed; rat-snn: --protocol, --data-path, --backends, --seed); the others are refused,
    and isam-mtl refuses options its chosen protocol would ignore; --no-progress and --json as for adapt."""
    isam, rat = _hook_spy(mp, "isam", "evaluate"), _hook_spy(mp, "rat_snn", "evaluate")
    given = {"--protocol": ("loso",), "--shots": ("1", "3"), "--data-path": ("d",), "--streaming": (),
             "--backends": ("float",), "--seed": ("2",)}  # fmt: skip
    for option, values in given.items():
        ok("evaluate", runs.isam, option, *values)
        got = isam[-1]["args"][1][option[2:].replace("-", "_")]
        assert got is True if not values else [str(v) for v in np.atleast_1d(got)] == list(values)
    for option, values in {"--protocol": ("sessions",), "--data-path": ("d",), "--backends": ("float", "lava"),
                           "--seed": ("2",)}.items():  # fmt: skip
        ok("evaluate", runs.rat, option, *values)
        assert [str(v) for v in np.atleast_1d(rat[-1]["args"][1][option[2:].replace("-", "_")])] == list(values)
    assert "rat-snn" in refused("--shots", "evaluate", runs.rat, "--shots", "2")
    assert "rat-snn" in refused("--streaming", "evaluate", runs.rat, "--streaming")
    refused("--shots", "evaluate", runs.isam, "--streaming", "--shots", "2")
    refused("--seed", "evaluate", runs.isam, "--protocol", "within", "--seed", "2")
    on_terminal(mp)
    ok("evaluate", runs.rat)
    assert rat[-1]["args"][2] is True
    ok("evaluate", runs.rat, "--no-progress")
    assert rat[-1]["args"][2] is False
    assert json_object(ok("evaluate", runs.rat, "--seed", "4", "--json"))["options"]["seed"] == 4


@check({"adapt": "--subject --shots --backend --seed"}, slow=True)
def isam_adapt_options_change_the_result(runs: Runs, mp) -> None:
    """isam-mtl adapt, for real: --subject: which subject (adapt_S.json); --shots: trials per class learned;
    --seed: which trials; --backend lava: a Lava result next to the reference's."""
    base = json_object(ok("adapt", runs.isam, "--no-progress", "--json"))
    other = json_object(ok("adapt", runs.isam, "--subject", str(base["subject"] + 1), "--no-progress", "--json"))
    assert other["subject"] == base["subject"] + 1 and (runs.isam / f"adapt_{other['subject']}.json").is_file()
    assert (
        json_object(ok("adapt", runs.isam, "--shots", "2", "--json"))["shots_per_class"] == 2 != base["shots_per_class"]
    )
    assert json_object(ok("adapt", runs.isam, "--seed", "9", "--json"))["shot_trials"] != base["shot_trials"]
    lava = json_object(ok("adapt", runs.isam, "--backend", "lava", "--no-progress", "--json"))
    assert "lava" in lava["results"] and "lava" not in base["results"]


# ------------------------------------------------------------------ the table


def covered() -> dict[tuple[str, str], list[str]]:
    """(command, option) -> the checks that show it changes behaviour or is refused where it would be ignored."""
    table: dict[tuple[str, str], list[str]] = {}
    for name, (_, _, covers) in CHECKS.items():
        for command, options in covers.items():
            for option in options.split():
                table.setdefault((command, option), []).append(name)
    return table


def declared_options() -> set[tuple[str, str]]:
    """Every (command, option) the parser declares (the option's first spelling; --help aside)."""
    return {
        (name, action.option_strings[0])
        for name, parser in subcommand_parsers(build_parser()).items()
        for action in parser._actions
        if action.option_strings and action.option_strings[0] not in ("-h", "--help")
    }


def test_every_option_is_covered() -> None:
    """The table and the parser agree: no option without a check, no check for an option that is gone."""
    declared, table = declared_options(), covered()
    missing = sorted(declared - set(table))
    assert not missing, "\n".join(
        f"option {option} of command {command} is not covered: add it to a check's `covers` in "
        "tests/cli/test_every_option.py, a check that it changes behaviour or is refused where it would be ignored"
        for command, option in missing
    )
    gone = sorted(set(table) - declared)
    assert not gone, f"checks cover options the parser no longer has: {gone}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("every_option"))


@pytest.mark.lava
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if slow else n for n, (_, slow, _) in CHECKS.items()]
)
def test_option_check(name: str, runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run one check of the table (each names the behaviour it observes in its docstring)."""
    CHECKS[name][0](runs, monkeypatch)
