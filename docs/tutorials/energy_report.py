# %% [markdown]
# # Reading and citing the energy report
#
# `spikeport report RUN` writes `RUN/report.json`: task metrics of every stage, bit-exactness of the integer
# reference against Lava, the mapping onto cores, operation counts in three conventions, and energy and latency
# per inference on every chip model next to conventional baselines. Every figure that does not come from the
# run itself carries its `source`, its `basis` (published, measured, derived, commonly quoted, proxy) and a `note`.
# This tutorial makes a small run, reads the report the way a paper's methods section needs it, and writes the
# citation from the report itself. [Reading the report](../report.md) describes the sections and
# [the report schema](../report-schema.md) every field; [the energy model](../energy.md) says how each term is
# counted.

# %%
import json
import os
import subprocess
import sys
from pathlib import Path


def spikeport_cli(*args: str) -> str:
    """Run a `spikeport` command as a user would in a shell, print its output, fail on a non-zero exit code.

    Progress bars appear only on a terminal, so the captured output holds the results alone."""
    print("$ spikeport", " ".join(args))
    done = subprocess.run([sys.executable, "-m", "spikeport", *args], capture_output=True, text=True, check=False)
    print(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"spikeport {args[0]} exited with {done.returncode}")
    return done.stdout


# %% [markdown]
# ## 1. A run with a report
#
# `spikeport demo` trains the default decoder on SYNTHETIC motor-imagery EEG, exports, quantizes, runs the
# integer reference and Lava, and reports. Small settings keep it quick; any run directory whose stages have run
# (`train`, `export`, `quantize`, `simulate --backend reference`, `simulate --backend lava`) works the same way.
# `--format md` also renders `report.md` with PNG plots (`--format html`: one self-contained page).

# %%
# The run directory goes to runs/tutorials/ (or $SPIKEPORT_TUTORIAL_OUT), to be inspected afterwards.
run_dir = Path(os.environ.get("SPIKEPORT_TUTORIAL_OUT", "runs/tutorials")) / "decoder"
demo = ["--subjects", "2", "--trials-per-class", "20", "--epochs", "20", "--finetune-epochs", "1"]
spikeport_cli("demo", "--out", str(run_dir), *demo)
spikeport_cli("report", str(run_dir), "--format", "md")
report = json.loads((run_dir / "report.json").read_text())
print(sorted(p.name for p in run_dir.glob("report*")))

# %% [markdown]
# ## 2. What was measured
#
# Check the schema version first: a reader should refuse a version it does not know. Then the provenance: is the
# data SYNTHETIC, does the chip's simulation agree bit for bit with the reference, did anything saturate?

# %%
KNOWN_SCHEMA = 3
if report["schema_version"] != KNOWN_SCHEMA:
    raise SystemExit(f"report.json schema {report['schema_version']}; this tutorial reads version {KNOWN_SCHEMA}")
print("data:", report["data"]["description"], "| SYNTHETIC" if report["data"]["synthetic"] else "| recorded")
print("bit-exact reference vs Lava:", report["bit_exact"])
for stage, metrics in report["performance"]["stages"].items():
    print(f"  {stage:<24} {metrics}")
assert report["bit_exact"] is True

# %% [markdown]
# ## 3. Dynamic energy, term by term
#
# `energy.selected` is the chosen chip's estimate (here Loihi, the default chip). Each dynamic term is a count per
# inference, the convention it was counted in, and the energy per operation with its source: the estimate is
# count x coefficient, nothing hidden.

# %%
selected = report["energy"]["selected"]
sources: list[str] = []  # numbered in order of first use, as a paper's reference list


def joules(pj: float | None) -> str:
    """An energy given in pJ, in a readable unit (n/a when the report has none)."""
    if pj is None:
        return "n/a"
    for unit, scale in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= scale:
            return f"{pj / scale:.3g} {unit}"
    return f"{pj:.3g} pJ"


def cite(figure: dict) -> str:
    """The figure's reference number (adding its source to the list) and its basis when not simply published."""
    if figure["source"] not in sources:
        sources.append(figure["source"])
    basis = "" if figure["basis"] == "published" else f", {figure['basis']}"
    return f"[{sources.index(figure['source']) + 1}{basis}]"


print(f"{selected['chip_name']}: {selected['counted_samples']} samples x {selected['counted_steps']} steps counted")
for term in selected["dynamic_terms"]:
    c = term["coefficient"]
    print(
        f"  {term['name']:<24} {term['count']:>10.1f} x {c['value']} {c['unit']} = {joules(term['energy_pj']):>9}"
        f"  ({term['convention']}) {cite(c)}"
    )
total = sum(term["energy_pj"] for term in selected["dynamic_terms"])
print(f"  dynamic energy per inference: {joules(total)}")
assert abs(total - selected["dynamic_pj"]) <= 1e-6 * total  # the total is exactly the sum of its terms

# %% [markdown]
# ## 4. Static energy dominates small decoders
#
# A chip draws static power whether or not the network spikes. The report gives four operating points: real time
# (one step per time bin of the data) and back to back at the modelled step time, each with the static power of
# whole chips and as a power-gated estimate scaled to the cores in use (labelled an estimate). Quote the real-time
# figure for a decoder that runs on live data.

# %%
for point in selected["operating_points"]:
    label = "ESTIMATE " if point["estimate"] else ""
    print(
        f"  {point['name']:<22} {label:<9} {point['inference_s'] * 1e3:8.4g} ms: "
        f"dynamic {joules(point['dynamic_pj'])} + static {joules(point['static_pj'])} {cite(point['static_power'])}"
    )
real_time = next(p for p in selected["operating_points"] if p["name"] == "real_time")
assert real_time["static_pj"] > real_time["dynamic_pj"]

# %% [markdown]
# ## 5. Side by side
#
# `energy.models` has one row per chip model and conventional baseline: the same counts priced with each one's
# published figures. A row without a figure says why (`dynamic_unavailable`); nothing is filled in. PROXY marks a
# row that borrows another chip's figures.

# %%
for row in report["energy"]["models"]:
    dynamic = joules(row["dynamic_pj"])
    why = row["dynamic_unavailable"] or ""
    print(f"  {row['model']:<30} {row['kind']:<13} {'PROXY ' if row['proxy'] else ''}{dynamic:>12}  {why[:70]}")

# %% [markdown]
# ## 6. Citing it
#
# A figure in a paper needs the count, its convention, the per-operation energy with its source and basis, the
# static power at the operating point, and what made the counts (spikeport's integer reference, bit-exact with
# Lava). The report holds all of it, so the sentence can be written from it:

# %%
synops = next(t for t in selected["dynamic_terms"] if t["name"].startswith("synops"))
text = (
    f"On {selected['chip_name']}, one inference ({selected['counted_steps']} steps of {selected['dt_s'] * 1e3:g} ms) "
    f"costs {joules(selected['dynamic_pj'])} of dynamic energy, of which {joules(synops['energy_pj'])} "
    f"are {synops['count']:.0f} synaptic operations ({synops['convention']}) at {synops['coefficient']['value']} pJ "
    f"each {cite(synops['coefficient'])}, and {joules(real_time['static_pj'])} of static energy at real time "
    f"{cite(real_time['static_power'])}. Operations were counted on spikeport's integer reference simulator, which "
    "matched Lava's fixed-point (fixed_pt) simulation bit for bit on the same inputs."
)
print(text)
print("\nReferences")
for number, source in enumerate(sources, start=1):
    print(f"  [{number}] {source}")
assert sources and all(source.strip() for source in sources)

# %% [markdown]
# ## 7. A chip without published per-operation figures
#
# Intel has not published per-operation energy for Loihi 2. `--chip loihi2` maps the network onto Loihi 2 and
# reports its dynamic energy as unavailable; `--energy-proxy loihi` prices the same counts with Loihi's figures
# and labels every such term PROXY (basis `proxy`), so a borrowed number cannot pass for a measured one.

# %%
spikeport_cli("report", str(run_dir), "--chip", "loihi2", "--energy-proxy", "loihi")
proxied = json.loads((run_dir / "report.json").read_text())["energy"]
assert proxied["per_op_proxy"] is True
assert all(t["coefficient"]["basis"] == "proxy" for t in proxied["selected"]["dynamic_terms"])
print(f"Loihi 2 with Loihi's per-operation figures (PROXY): {joules(proxied['dynamic_pj'])} dynamic")

# %%
print("tutorial complete: energy report read and cited")
