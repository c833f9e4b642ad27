"""Turn a spikeport report into a table and a reference list to paste into a paper.

What it does: reads a `report.json` (written by `spikeport report RUN`, `spikeport demo`, or `Report.save` of the
Python API) and prints, for one inference, the dynamic, static (at real time) and total energy of every chip
model and conventional baseline as a Markdown table, the chosen chip's dynamic terms with their counting
conventions, and the numbered sources of every figure used, with their basis (published, measured, derived,
commonly quoted, proxy). Nothing is recomputed: every number is the report's.

Run it from the repository root, on a run directory or a report file:

    .venv/bin/spikeport report runs/a && .venv/bin/python examples/energy_report.py runs/a
    .venv/bin/python examples/energy_report.py runs/examples/nir_to_lava/report.json

Exit code 2 when the file is missing, is not a report, or has a schema version this script does not know.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KNOWN_SCHEMA = 3  # docs/report-schema.md


class Sources:
    """Numbers sources in order of first use; a figure's citation is "[n]" or "[n, basis]"."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def cite(self, figure: dict) -> str:
        if figure["source"] not in self.items:
            self.items.append(figure["source"])
        basis = "" if figure["basis"] == "published" else f", {figure['basis']}"
        return f"[{self.items.index(figure['source']) + 1}{basis}]"


def energy(pj: float | None) -> str:
    """An energy in pJ with a readable unit, or n/a."""
    if pj is None:
        return "n/a"
    for unit, scale in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= scale:
            return f"{pj / scale:.3g} {unit}"
    return f"{pj:.3g} pJ"


def row_citations(row: dict, sources: Sources) -> str:
    figures = [term["coefficient"] for term in row.get("dynamic_terms") or []]
    if row.get("static_power"):
        figures.append(row["static_power"])
    return " ".join(sorted({sources.cite(figure) for figure in figures}))


def render(report: dict) -> str:
    """The Markdown text: the side-by-side table, the chosen chip's terms, the references."""
    sources = Sources()
    e = report["energy"]
    data = report["data"]
    facts = [f"model {report['model']}"]
    if "synthetic" in data:  # a run's report; a deploy graph's report (Python API) has its inputs only
        facts.append("SYNTHETIC data" if data["synthetic"] else "recorded data")
    if "bit_exact" in report:  # a run's report compares the reference's and Lava's records
        facts.append(f"reference vs Lava bit-exact: {report['bit_exact']}")
    lines = [
        f"Energy per inference ({e['steps_per_inference']} steps, {e['real_time_s'] * 1e3:g} ms in real time); "
        + ", ".join(facts)
        + ".",
        "",
        "| model | dynamic | static (real time) | total | sources |",
        "|---|---|---|---|---|",
    ]
    for row in e["models"]:
        name = f"{row['model']} (PROXY)" if row["proxy"] else row["model"]
        lines.append(
            f"| {name} | {energy(row['dynamic_pj'])} | {energy(row['static_pj_real_time'])} | "
            f"{energy(row['total_pj_real_time'])} | {row_citations(row, sources)} |"
        )
    selected = e["selected"]
    if selected is not None:
        lines += ["", f"Dynamic terms on {selected['chip_name']}:", ""]
        for term in selected["dynamic_terms"]:
            c = term["coefficient"]
            lines.append(
                f"- {term['name']}: {term['count']:.1f} ({term['convention']}) x {c['value']} {c['unit']} = "
                f"{energy(term['energy_pj'])} {sources.cite(c)}"
            )
    lines += ["", "References:", ""]
    lines += [f"{number}. {source}" for number, source in enumerate(sources.items, start=1)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.json, or a run directory that holds one")
    args = parser.parse_args(argv)
    path = args.report / "report.json" if args.report.is_dir() else args.report
    try:
        report = json.loads(path.read_text())
        version = report["schema_version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"energy_report: error: {path} is not a readable spikeport report ({exc})", file=sys.stderr)
        return 2
    if version != KNOWN_SCHEMA:
        print(f"energy_report: error: {path} has schema {version}; this script reads {KNOWN_SCHEMA}", file=sys.stderr)
        return 2
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
