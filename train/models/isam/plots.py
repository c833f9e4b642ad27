"""PNG plots of an ISAM-MTL evaluation, each written atomically: confusion matrices, accuracy vs K, a latent spike
raster and a t-SNE of the latent spike counts per class (scikit-learn). Titles say SYNTHETIC when the data are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikeport.files import atomic_write

__all__ = ["write_plots"]


def _save(fig, path: Path) -> str:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None}))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def write_plots(run_dir: Path, run, rows: list[dict], protocol: str) -> list[str]:
    """Write the plots into `run_dir`; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tag = f"{run.label} data, {protocol}"
    names = []
    ours = [r for r in rows if "predictions" in r]
    models = sorted({r["model"] for r in ours})
    k_max = max((r["shots"] for r in ours), key=lambda k: (isinstance(k, int), k if isinstance(k, int) else 0))
    n = run.n_classes
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        matrix = np.zeros((n, n), dtype=np.int64)
        for r in ours:
            if r["model"] == model and r["shots"] == k_max:
                np.add.at(matrix, (np.asarray(r["labels"]), np.asarray(r["predictions"])), 1)
        ax.imshow(matrix, cmap="Blues")
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, str(value), ha="center", va="center")
        ax.set(title=f"{model}, K={k_max}", xlabel="predicted", ylabel="true", xticks=range(n), yticks=range(n))
    fig.suptitle(f"confusion matrices ({tag})", fontsize=9)
    names.append(_save(fig, run_dir / "evaluation_confusion.png"))

    shots = sorted({r["shots"] for r in rows if isinstance(r["shots"], int)})
    if shots:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for model in sorted({r["model"] for r in rows}):
            means = [
                np.mean([r["accuracy"] for r in rows if r["model"] == model and r["shots"] == k] or [np.nan])
                for k in shots
            ]
            ax.plot(shots, means, marker="o", label=model)
        ax.axhline(1.0 / n, color="grey", linestyle=":", label="chance")
        ax.set(xlabel="shots per class (K)", ylabel="mean accuracy", title=f"accuracy vs K ({tag})", ylim=(0, 1.02))
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
        names.append(_save(fig, run_dir / "evaluation_accuracy_vs_k.png"))

    names += _latent_plots(run_dir, run, tag, plt)
    return names


def _latent_plots(run_dir: Path, run, tag: str, plt) -> list[str]:
    from sklearn.manifold import TSNE

    from spikeport.train.models.isam.fit import latent_spikes

    x, y = run.data["x_test"], run.data["y_test"]
    spikes = latent_spikes(run.model, x)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    steps, neurons = np.nonzero(spikes[0])
    ax.scatter(steps, neurons, s=4, marker="|", color="k")
    ax.set(xlabel="step", ylabel="latent neuron", title=f"latent spikes, one test trial (class {int(y[0])}; {tag})")
    ax.title.set_fontsize(8)
    names = [_save(fig, run_dir / "evaluation_latent_raster.png")]
    counts = spikes.sum(axis=1).astype(np.float64)
    if len(counts) >= 5:
        embedded = TSNE(
            n_components=2, perplexity=min(30.0, (len(counts) - 1) / 3), random_state=0, init="pca"
        ).fit_transform(counts)
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        for k, name in enumerate(run.info["class_names"]):
            ax.scatter(*embedded[y == k].T, s=10, label=name)
        ax.set(title=f"t-SNE of latent spike counts (test split; {tag})")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=7)
        names.append(_save(fig, run_dir / "evaluation_latent_tsne.png"))
    return names
