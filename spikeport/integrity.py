"""Run integrity: every artifact of a run directory records what it was made from, and readers check it.

`manifest.json` in the run directory holds one entry per artifact: the stage that wrote it, its SHA-256, the
SHA-256 of each artifact it was made from, the command, the seed, and the versions of spikeport, torch, lava-nc,
nir and numpy. A stage that reads an artifact calls `RunManifest.require`, which refuses, with one line that names
the file and the stage to re-run:

- a missing artifact (run the stage that makes it);
- a foreign artifact (no entry: written by hand, copied in, or by another tool);
- a changed artifact (its bytes differ from what its stage wrote, e.g. one record copied over another);
- a stale artifact (made from an input that has since been re-made, checked transitively down to the data).

Inputs are checked before their hashes are compared, so the message names the most upstream stage to re-run.
Re-running a stage therefore invalidates everything downstream of it without deleting anything. `record` writes
the manifest atomically under a lock on the run directory. The manifest holds no timestamps, so the same command
with the same seed writes the same bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from spikeport.errors import StaleArtifactError
from spikeport.files import write_json

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
TRACKED_PACKAGES = ("spikeport", "torch", "lava-nc", "nir", "numpy")


@dataclass(frozen=True)
class ArtifactEntry:
    """How one artifact was made."""

    stage: str
    """The command that writes it, as the user re-runs it (e.g. 'simulate --backend lava')."""
    sha256: str
    inputs: dict[str, str] = field(default_factory=dict)
    """Artifact name -> SHA-256 of the input it was made from."""
    command: list[str] = field(default_factory=list)
    seed: int | None = None
    versions: dict[str, str] = field(default_factory=dict)


def _entry(name: str, raw: dict) -> ArtifactEntry:
    """One manifest entry, its field types checked (a ValueError names the artifact and the field)."""
    entry = ArtifactEntry(**raw)
    checks = {
        "stage": isinstance(entry.stage, str),
        "sha256": isinstance(entry.sha256, str),
        "inputs": isinstance(entry.inputs, dict) and all(isinstance(v, str) for v in entry.inputs.values()),
        "command": isinstance(entry.command, list),
        "seed": entry.seed is None or (isinstance(entry.seed, int) and not isinstance(entry.seed, bool)),
        "versions": isinstance(entry.versions, dict),
    }
    bad = [key for key, ok in checks.items() if not ok]
    if bad:
        raise ValueError(f"entry {name!r} has a malformed {', '.join(bad)}")
    return entry


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour an artifact depends on ('absent' if not installed)."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


class RunManifest:
    """The manifest of one run directory, read once; `record` writes it back atomically."""

    def __init__(self, run_dir: str | Path, *, stage_of: Callable[[str], str] | None = None) -> None:
        """Read the manifest of `run_dir` (none yet: an empty one).

        Args:
            run_dir: the run directory.
            stage_of: the command that makes an artifact, by file name, for artifacts the manifest does not name
                (default: 'train').
        """
        self.run_dir = Path(run_dir)
        self._stage_of = stage_of or (lambda name: "train")
        self.path = self.run_dir / MANIFEST_FILE
        self.entries: dict[str, ArtifactEntry] = self._read()
        self._hashes = {name: entry.sha256 for name, entry in self.entries.items()}
        """The hash of each artifact as this process read it (or wrote it): what its outputs were made from."""
        self._verified: set[str] = set()
        """Artifacts `require` has found unchanged and up to date (not hashed again by this process)."""

    def _read(self) -> dict[str, ArtifactEntry]:
        if not self.path.exists():
            return {}
        try:
            payload = json.loads(self.path.read_text())
            if payload.get("manifest_version") != MANIFEST_VERSION:
                raise ValueError(f"manifest_version {payload.get('manifest_version')!r}, expected {MANIFEST_VERSION}")
            return {str(name): _entry(name, raw) for name, raw in payload["artifacts"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StaleArtifactError(
                f"{self.path} is unreadable ({exc}); delete it and re-run the stages from `spikeport train`"
            ) from exc

    def require(self, name: str, stage: str) -> Path:
        """The path of artifact `name`, after checking it is present, recorded, unchanged and up to date.

        Args:
            name: file name inside the run directory.
            stage: the command that makes it, named in the error (e.g. 'train', 'simulate --backend lava').
        """
        return self._check(name, stage, seen=set())

    def _check(self, name: str, stage: str, seen: set[str]) -> Path:
        path = self.run_dir / name
        if not path.is_file():
            raise StaleArtifactError(f"{path} not found; run `spikeport {stage}` for {self.run_dir} first")
        entry = self.entries.get(name)
        if entry is None:
            raise StaleArtifactError(
                f"{path} is not recorded in {self.path} (written outside spikeport or by an older version); "
                f"re-run `spikeport {stage}`"
            )
        if name in seen:
            return path
        seen.add(name)
        if name not in self._verified and sha256_of(path) != entry.sha256:
            raise StaleArtifactError(
                f"{path} changed after `spikeport {entry.stage}` wrote it; re-run `spikeport {entry.stage}`"
            )
        stages = {}
        for input_name in entry.inputs:  # inputs first, so the message names the most upstream stage to re-run
            input_entry = self.entries.get(input_name)
            stages[input_name] = input_entry.stage if input_entry else self._stage_of(input_name)
            self._check(input_name, stages[input_name], seen)
        for input_name, input_hash in entry.inputs.items():
            input_stage = stages[input_name]
            if self.entries[input_name].sha256 != input_hash:
                raise StaleArtifactError(
                    f"{path} was made from an older {input_name} (re-made by `spikeport {input_stage}` since); "
                    f"re-run `spikeport {entry.stage}`"
                )
        self._verified.add(name)
        return path

    def record(self, name: str, stage: str, *, inputs: tuple[str, ...] = (), seed: int | None = None) -> None:
        """Enter artifact `name` (already written) as made by `stage` from `inputs`, and save the manifest.

        The inputs' hashes are those this manifest held when the stage read them (checked by `require`), so an
        input re-made by another process in the meantime leaves `name` stale rather than hiding the change. The
        manifest is re-read and written back under an exclusive lock on the run directory, so stages running at
        the same time in one run directory (say, both `simulate` backends) do not lose each other's entries.
        """
        missing = [i for i in inputs if i not in self._hashes]
        if missing:
            raise StaleArtifactError(f"cannot record {name}: its inputs {missing} are not in {self.path}")
        entry = ArtifactEntry(
            stage=stage,
            sha256=sha256_of(self.run_dir / name),
            inputs={i: self._hashes[i] for i in inputs},
            command=["spikeport", *sys.argv[1:]],
            seed=seed,
            versions=package_versions(),
        )
        with self._locked():
            self.entries = {**self._read(), name: entry}
            self._hashes[name] = entry.sha256
            self._verified.clear()  # checked against the entries just re-read
            write_json(
                self.path,
                {
                    "manifest_version": MANIFEST_VERSION,
                    "artifacts": {k: asdict(v) for k, v in sorted(self.entries.items())},
                },
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive advisory lock on the run directory itself (no lock file is left behind)."""
        fd = os.open(self.run_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


__all__ = ["MANIFEST_FILE", "ArtifactEntry", "RunManifest", "StaleArtifactError", "package_versions", "sha256_of"]
