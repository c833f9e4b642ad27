"""What a model family declares: its task, readout, config, default data, and how it is built, trained and exported.

A family is one frozen `ModelFamily` value registered by name (`spikeport.train.models.registry`). The pipeline
and the CLI only ever call these hooks, so a new family (a regression decoder, the Hebbian memory) runs through
train -> export -> quantize -> simulate -> report without any change to pipeline or CLI code. Hooks import their
heavy dependencies (torch, norse, nir) when called, so that listing the families stays fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from spikeport.errors import CorruptFileError, ModelFamilyError
from spikeport.ir.formats import DEFAULT_CHIP
from spikeport.train.models.readout import Readout
from spikeport.train.tasks import TaskKind

__all__ = ["DATA_FIELDS", "OPTION_OF_FIELD", "SYNTHETIC_FIELDS", "ModelFamily", "RunConfig", "TaskData", "TrainResult"]

DATA_FIELDS = frozenset(
    {"n_subjects", "trials_per_class", "num_steps", "data_path", "subject_ids", "data_files", "events"}
)
"""RunConfig fields that only some data sources read (`ModelFamily.data_fields` says which)."""
SYNTHETIC_FIELDS = frozenset({"n_subjects", "trials_per_class", "num_steps"})
"""The data fields a family's built-in synthetic data reads."""
OPTION_OF_FIELD = {
    "n_subjects": "--subjects",
    "subject_ids": "--subjects",
    "trials_per_class": "--trials-per-class",
    "num_steps": "--steps",
    "data_path": "--data-path",
    "data_files": "--files",
    "events": "--events",
}
"""The `spikeport train`/`demo` option that sets each data field (for error messages)."""


@dataclass(frozen=True)
class RunConfig:
    """Settings of one run (`spikeport train` / `spikeport demo`); each family reads the ones it needs.

    The defaults are the decoder's (the built-in synthetic motor-imagery job); a family overrides them through
    `ModelFamily.defaults`, and command-line options override both.
    """

    model: str = "decoder"
    """Name of the model family (`spikeport.train.models.family_names()`)."""
    seed: int = 0
    """Seed of data, split, weight initialisation and training."""
    n_subjects: int = 4
    """Synthetic subjects (or independent sessions) in the generated data."""
    trials_per_class: int = 40
    """Trials per class and subject (for regression families: samples per subject)."""
    num_steps: int = 32
    """Time steps per sample."""
    n_hidden: int = 64
    """Hidden neurons."""
    epochs: int | None = None
    """Training epochs; None: the family's trainer default."""
    test_fraction: float = 0.25
    """Share of the samples held out for testing."""
    chip: str = DEFAULT_CHIP
    """Chip whose formats and energy figures are used."""
    finetune_epochs: int = 5
    """Epochs of quantization-aware fine-tuning through the integer forward pass (0: none)."""
    data: str = "synthetic"
    """Data source, one of the family's `data_sources` (`--data`): "synthetic" (built in) or a recording layout."""
    data_path: str | None = None
    """Folder or file of recorded data (`--data-path`); None for synthetic data."""
    subject_ids: tuple[int, ...] = ()
    """Recorded subjects to load (`--subject-ids`); empty: the data source's default set."""
    data_files: tuple[str, ...] = ()
    """Recordings named one by one (`--files`), for sources that read any file of a format."""
    events: str | None = None
    """Event-to-class mapping of user recordings (`--events`, e.g. "T1=left,T2=right")."""


@dataclass(frozen=True, kw_only=True)
class TaskData:
    """The encoded inputs and targets of a run, as `data.npz` stores them."""

    x_train: np.ndarray
    """Input spikes, shape (samples, steps, n_inputs), 0/1."""
    y_train: np.ndarray
    """Targets: int64 class indices (samples,) or float64 values (samples, n_outputs)."""
    x_test: np.ndarray
    """Held-out input spikes, shape (samples, steps, n_inputs)."""
    y_test: np.ndarray
    """Held-out targets, as `y_train`."""
    info: Mapping[str, Any]
    """JSON-serializable provenance: source, synthetic (bool), description, input_names, and class_names
    (classification) or output_names (regression)."""
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Further arrays stored alongside (for example subjects_train, subjects_test)."""

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array to store, by its key in `data.npz`."""
        core = {"x_train": self.x_train, "y_train": self.y_train, "x_test": self.x_test, "y_test": self.y_test}
        return {**core, **self.extra}


@dataclass(frozen=True)
class TrainResult:
    """What a family's trainer reports about the float training."""

    loss: tuple[float, ...]
    """Training loss per epoch."""
    train_metric: tuple[float, ...] = ()
    """The running training metric per epoch (accuracy, or mean squared error for regression)."""


@dataclass(frozen=True, kw_only=True)
class ModelFamily:
    """A model family: everything the pipeline needs to build, train, evaluate and export one kind of model.

    Every hook is a plain function; `build_model` must return a `torch.nn.Module` with a `config` attribute
    holding an instance of `config_type` (saved in `model.pt` as `dataclasses.asdict(config)`).
    """

    name: str
    """Registry key, used on the command line (`--model NAME`) and stored in `model.pt`."""
    summary: str
    """One line for `spikeport --help`."""
    task: TaskKind
    """Classification or regression; selects the report's metrics."""
    readout: Readout
    """How the output population's integer v becomes predictions; written into the deploy graph's metadata."""
    config_type: type
    """The model's config dataclass (its fields are what `model.pt` stores)."""
    make_data: Callable[[RunConfig], TaskData]
    """The family's default data builder (synthetic data, encoded as spikes)."""
    make_config: Callable[[RunConfig, TaskData], Any]
    """The model config for a run's settings and data (input size, outputs, hidden size)."""
    build_model: Callable[[Any, int], Any]
    """(config, seed) -> an untrained model, weights initialised from `seed`."""
    train: Callable[..., TrainResult]
    """(model, data, *, seed, epochs, progress) -> TrainResult; trains in place; epochs None: the default."""
    predict: Callable[[Any, np.ndarray], np.ndarray]
    """(model, x) -> float-model predictions in the readout's form (class indices or values)."""
    to_nir: Callable[[Any, Mapping[str, Any]], Any]
    """(model, data info) -> `nir.NIRGraph` of the trained model."""
    nir_equal: Callable[[Any, Any], bool] | None = None
    """(written, read back) -> equal? None: `spikeport.export.nir_graphs_equal`."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """RunConfig fields this family defaults differently (CLI-facing defaults), e.g. {"n_hidden": 16}."""
    data_sources: tuple[str, ...] = ("synthetic",)
    """Values of `RunConfig.data` that `make_data` reads (`spikeport train --data NAME`); the first is the default."""
    adapt: Callable[[Path, Mapping[str, Any], bool], Mapping[str, Any]] | None = None
    """(run_dir, options, progress) -> result with "summary" lines: adapt the trained model to a new subject or
    session (`spikeport adapt RUN`); options are the command's parsed options by name. None: not supported."""
    evaluate: Callable[[Path, Mapping[str, Any], bool], Mapping[str, Any]] | None = None
    """(run_dir, options, progress) -> result with "summary" lines: the family's evaluation protocol with its
    baselines on the same splits (`spikeport evaluate RUN`). None: not supported."""
    data_fields: Mapping[str, frozenset[str]] = field(default_factory=lambda: {"synthetic": SYNTHETIC_FIELDS})
    """For each data source, the `DATA_FIELDS` its data builder reads; `run_config` refuses a value given for any
    other, so `spikeport train` never silently ignores an option (e.g. --files with synthetic data)."""
    adapt_options: frozenset[str] = frozenset()
    """Options of `spikeport adapt` (parsed names, e.g. "shots") that `adapt` reads; the CLI refuses the others."""
    evaluate_options: frozenset[str] = frozenset()
    """Options of `spikeport evaluate` that `evaluate` reads; the CLI refuses the others."""

    def __post_init__(self) -> None:
        known = {f.name for f in dataclasses.fields(RunConfig)} - {"model"}
        unknown = sorted(set(self.defaults) - known)
        if unknown:
            raise ModelFamilyError(f"model family {self.name!r}: defaults name unknown RunConfig fields {unknown}")
        if self.readout.task is not self.task:
            raise ModelFamilyError(
                f"model family {self.name!r}: readout {self.readout.value!r} is for {self.readout.task.value}, "
                f"but the family's task is {self.task.value}"
            )
        if not self.data_sources:
            raise ModelFamilyError(f"model family {self.name!r}: data_sources is empty; list at least 'synthetic'")
        if set(self.data_fields) != set(self.data_sources) or any(f - DATA_FIELDS for f in self.data_fields.values()):
            raise ModelFamilyError(
                f"model family {self.name!r}: data_fields must name each of data_sources {self.data_sources} with a "
                f"subset of {sorted(DATA_FIELDS)}"
            )
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(
            self, "data_fields", MappingProxyType({k: frozenset(v) for k, v in self.data_fields.items()})
        )

    def run_config(self, **overrides: Any) -> RunConfig:
        """RunConfig defaults, then this family's defaults, then `overrides` (None values are ignored)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        config = dataclasses.replace(RunConfig(model=self.name), **{**self.defaults, **given})
        if config.data not in self.data_sources:
            raise ModelFamilyError(
                f"--data {config.data!r} is not a data source of model family {self.name!r}; "
                f"choose one of {', '.join(self.data_sources)}"
            )
        if config.data != "synthetic" and config.data_path is None and not config.data_files:
            raise ModelFamilyError(f"--data {config.data} reads recordings: give their folder with --data-path DIR")
        reads = self.data_fields[config.data]
        unused = sorted({OPTION_OF_FIELD[k] for k in given if k in DATA_FIELDS and k not in reads})
        if unused:
            options = ", ".join(sorted({OPTION_OF_FIELD[k] for k in reads})) or "none"
            raise ModelFamilyError(
                f"{unused[0]} is not used by model family {self.name!r} with --data {config.data} (its data options: "
                f"{options}); omit {' and '.join(unused)}"
            )
        return config

    def refuse_unused(self, command: str, given: Mapping[str, Any]) -> None:
        """Raise ModelFamilyError naming the first option given to `spikeport adapt`/`evaluate` (`command`) that this
        family's hook does not read; `given` maps parsed option names to values (None/False: not given)."""
        reads = self.adapt_options if command == "adapt" else self.evaluate_options
        unused = sorted(k for k, v in given.items() if v is not None and v is not False and k not in reads)
        if unused:
            flag, value = "--" + unused[0].replace("_", "-"), given[unused[0]]
            shown = f"{flag} {' '.join(map(str, value)) if isinstance(value, list | tuple) else value}"
            uses = ", ".join("--" + k.replace("_", "-") for k in sorted(reads)) or "none"
            raise ModelFamilyError(
                f"{flag if value is True else shown} is not used by `spikeport {command}` for model family "
                f"{self.name!r} (its options: {uses}); omit {flag}"
            )

    def load_model(self, config: Mapping[str, Any], state_dict: Mapping[str, Any]):
        """Rebuild a trained model from what `model.pt` stores, in eval mode."""
        model = self.build_model(self.config_type(**config), 0)
        try:
            model.load_state_dict(state_dict)
        except RuntimeError as exc:  # missing, unexpected or resized weights: another version of the model
            first = str(exc).strip().splitlines()[-1].strip()
            raise CorruptFileError(
                f"model.pt does not match the {self.name} model of this spikeport ({first}); it was written by another "
                "version: re-run `spikeport train`"
            ) from None
        return model.eval()
