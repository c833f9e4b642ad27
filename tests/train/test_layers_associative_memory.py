"""Tests of the per-subject Hebbian associative memory (spikeport.train.layers.associative_memory)."""

from __future__ import annotations

import io

import pytest
import torch

from spikeport.train.layers import HebbianAssociativeMemory, MemoryConfig, Normalization

L, K, STEPS = 40, 3, 20


def _poisson(rates: torch.Tensor, per_class: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent spikes (STEPS, K * per_class, L): Bernoulli(rate) per step, the discrete Poisson process; labels."""
    labels = torch.arange(rates.shape[0]).repeat_interleave(per_class)
    spikes = (torch.rand(STEPS, labels.shape[0], rates.shape[1], generator=gen) < rates[labels]).float()
    return spikes, labels


def _subset_prototypes(gen: torch.Generator, high: float = 0.15, low: float = 0.05) -> torch.Tensor:
    """K prototypes with equal total rate: each class fires at `high` on its own 10 units, `low` elsewhere."""
    perm, rates = torch.randperm(L, generator=gen), torch.full((K, L), low)
    for c in range(K):
        rates[c, perm[c * 10 : (c + 1) * 10]] = high
    return rates


def _accuracy(memory: HebbianAssociativeMemory, spikes: torch.Tensor, labels: torch.Tensor, subject) -> float:
    return (memory.predict(spikes, subject) == labels).float().mean().item()


@pytest.mark.parametrize("normalization", list(Normalization))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_retrieval_of_poisson_prototypes_from_five_samples_per_class(seed: int, normalization: Normalization) -> None:
    """3 prototypes (rate 0.15 on 10 own units, 0.05 elsewhere), 20 steps, memory from 5 samples per class.

    Measured on 200 held-out samples per class: >= 0.97 for both readouts over seeds 0-19. The bound 0.9 (the
    paper's few-shot figure, far above chance 1/3) leaves room for sampling noise without hiding a broken rule."""
    gen = torch.Generator().manual_seed(seed)
    rates = _subset_prototypes(gen)
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K, eta=0.1, normalization=normalization))
    memory.adapt("s0", *_poisson(rates, 5, gen))
    assert _accuracy(memory, *_poisson(rates, 200, gen), "s0") >= 0.9


@pytest.mark.parametrize("seed", [3, 9])
def test_row_normalization_handles_prototypes_of_unequal_total_rate(seed: int) -> None:
    """Random prototypes, rates U(0.02, 0.3): the raw dot product favours the class that fires most (measured 0.53
    and 0.42 on these seeds), row-normalized readout stays >= 0.99 (measured over seeds 0-19)."""
    results = {}
    for normalization in Normalization:
        gen = torch.Generator().manual_seed(seed)
        rates = 0.02 + 0.28 * torch.rand(K, L, generator=gen)
        memory = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K, normalization=normalization))
        memory.adapt("s", *_poisson(rates, 5, gen))
        results[normalization] = _accuracy(memory, *_poisson(rates, 100, gen), "s")
    assert results[Normalization.ROWS] >= 0.9
    assert results[Normalization.NONE] < results[Normalization.ROWS] - 0.2
    assert MemoryConfig(n_latent=1, n_classes=1).normalization is Normalization.ROWS


def test_update_equals_the_closed_form_and_spikes_equal_their_counts() -> None:
    gen = torch.Generator().manual_seed(4)
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K, eta=0.5))
    memory.add_subject(7)
    start = torch.randint(0, 5, (K, L), generator=gen).float()
    memory.load_memories({7: start})
    spikes = (torch.rand(STEPS, 6, L, generator=gen) < 0.3).float()
    labels = torch.tensor([2, 0, 2, 1, 0, 2])
    memory.hebbian_update(spikes, labels, 7)
    counts = spikes.sum(dim=0)
    expected = start.clone()
    for b in range(6):  # W[y_b] += eta * counts_b, sample by sample
        expected[labels[b]] += 0.5 * counts[b]
    assert torch.equal(memory.memory(7), expected)
    onehot = torch.nn.functional.one_hot(labels, K).float()
    assert torch.equal(memory.memory(7), start + 0.5 * onehot.T @ counts)
    memory.hebbian_update(counts.to(torch.int64), labels, 7)  # counts (B, L) of any real dtype: the same update
    assert torch.equal(memory.memory(7), start + 2 * 0.5 * onehot.T @ counts)


def test_scores_follow_the_documented_readout_and_ties_go_to_the_lowest_class() -> None:
    weight = torch.tensor([[10.0, 10.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    counts = torch.tensor([[0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    raw = HebbianAssociativeMemory(MemoryConfig(n_latent=4, n_classes=3, normalization=Normalization.NONE))
    rows = HebbianAssociativeMemory(MemoryConfig(n_latent=4, n_classes=3, normalization=Normalization.ROWS))
    for memory in (raw, rows):
        memory.load_memories({"s": weight})
    torch.testing.assert_close(raw.scores(counts, "s"), counts @ weight.T)
    root2 = 2.0**0.5
    torch.testing.assert_close(rows.scores(counts, "s"), torch.tensor([[1 / root2, root2, 0.0], [0.0, 0.0, 0.0]]))
    assert raw.predict(counts, "s").tolist() == [0, 0]  # all-zero counts: a three-way tie -> class 0
    assert rows.predict(counts, "s").tolist() == [1, 0]
    rows.add_subject("empty")
    assert rows.predict(counts, "empty").tolist() == [0, 0]


def test_subjects_are_independent() -> None:
    gen = torch.Generator().manual_seed(5)
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K))
    a_data, b_data = _poisson(_subset_prototypes(gen), 5, gen), _poisson(_subset_prototypes(gen), 5, gen)
    memory.adapt("a", *a_data)
    a_before = memory.memory("a")
    memory.adapt("b", *b_data)
    memory.hebbian_update(*b_data, "b")
    assert torch.equal(memory.memory("a"), a_before)
    assert not torch.equal(memory.memory("a"), memory.memory("b"))
    memory.forget("b")
    assert memory.subjects == ("a",) and torch.equal(memory.memory("a"), a_before)


def test_adapt_learns_a_new_subject_from_five_samples_per_class_and_ignores_other_subjects() -> None:
    """adapt() starts from zeros: the new memory is a function of the new subject's samples only."""
    gen = torch.Generator().manual_seed(6)
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K, eta=0.25))
    for subject in ("s1", "s2"):
        memory.adapt(subject, *_poisson(_subset_prototypes(gen), 20, gen))
    new_rates = _subset_prototypes(gen)  # the new subject's classes use other units than the known subjects'
    shots = _poisson(new_rates, 5, gen)
    memory.adapt(3, *shots)
    alone = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K, eta=0.25))
    alone.adapt(3, *shots)
    assert torch.equal(memory.memory(3), alone.memory(3))
    assert torch.equal(memory.memory(3), 0.25 * torch.nn.functional.one_hot(shots[1], K).float().T @ shots[0].sum(0))
    assert _accuracy(memory, *_poisson(new_rates, 200, gen), 3) >= 0.9
    with pytest.raises(ValueError, match="already known"):
        memory.adapt("s1", *shots)


def test_memories_round_trip_through_state_dict_and_load_memories() -> None:
    gen = torch.Generator().manual_seed(7)
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K, eta=0.1))
    memory.adapt("a", *_poisson(_subset_prototypes(gen), 5, gen))
    memory.adapt(12, *_poisson(_subset_prototypes(gen), 5, gen))
    buffer = io.BytesIO()
    torch.save(memory.state_dict(), buffer)
    buffer.seek(0)
    restored = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K, eta=0.1))
    restored.load_state_dict(torch.load(buffer))
    assert restored.subjects == ("a", 12)
    for subject, weight in memory.memories().items():
        assert torch.equal(restored.memory(subject), weight)
    copy = HebbianAssociativeMemory(MemoryConfig(n_latent=L, n_classes=K))
    copy.load_memories(memory.memories())
    assert copy.subjects == ("a", 12)
    memory.memories()["a"].fill_(99.0)  # a copy: the memory itself is untouched
    assert not torch.equal(memory.memory("a"), torch.full((K, L), 99.0))


def test_rule_is_readable_as_plain_values() -> None:
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent=4, n_classes=2, eta=0.125))
    assert memory.rule_params() == {"rule": "hebbian_teacher_outer_counts", "eta": 0.125, "normalization": "rows"}
    assert memory.config.eta == 0.125 and memory.RULE == "hebbian_teacher_outer_counts"


def test_bad_input_raises_value_error_naming_the_problem() -> None:
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent=4, n_classes=3))
    memory.add_subject("a")
    counts, labels = torch.ones(2, 4), torch.tensor([0, 2])
    cases = [
        (lambda: memory.hebbian_update(torch.ones(2, 5), labels, "a"), r"shape \(2, 5\)"),
        (lambda: memory.hebbian_update(torch.ones(4), labels, "a"), r"\(T, B, 4\) or counts \(B, 4\)"),
        (lambda: memory.hebbian_update(counts, labels, "b"), "unknown subject 'b'"),
        (lambda: memory.scores(counts, 3), "unknown subject 3"),
        (lambda: memory.hebbian_update(counts, torch.tensor([0, 3]), "a"), r"out of range \[0, 3\): \[3\]"),
        (lambda: memory.hebbian_update(counts, torch.tensor([-1, 0]), "a"), "out of range"),
        (lambda: memory.hebbian_update(counts, torch.tensor([0.0, 1.0]), "a"), "labels must be integers"),
        (lambda: memory.hebbian_update(counts, torch.tensor([0, 1, 2]), "a"), r"labels must have shape \(2,\)"),
        (lambda: memory.hebbian_update(torch.full((2, 4), float("nan")), labels, "a"), "NaN"),
        (lambda: memory.scores(torch.full((2, 4), float("inf")), "a"), "NaN or infinite"),
        (lambda: memory.hebbian_update(-counts, labels, "a"), ">= 0"),
        (lambda: memory.add_subject("a"), "already has a memory"),
        (lambda: memory.add_subject(True), "subject key"),
        (lambda: memory.load_memories({"x": torch.ones(4, 3)}), r"shape \(4, 3\), expected \(3, 4\)"),
        (lambda: MemoryConfig(n_latent=4, n_classes=3, eta=float("nan")), "eta"),
        (lambda: MemoryConfig(n_latent=0, n_classes=3), "n_latent"),
        (lambda: MemoryConfig(n_latent=4, n_classes=3, normalization="rows"), "normalization"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert torch.equal(memory.memory("a"), torch.zeros(3, 4))  # nothing above changed the memory
    with pytest.raises(ValueError, match="out of range"):
        memory.adapt("new", counts, torch.tensor([0, 5]))
    assert "new" not in memory.subjects
