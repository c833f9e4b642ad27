"""SYNTHETIC center-out reaching with cosine-tuned Poisson units: the built-in default intracortical data.

Nothing here is a recording of an animal; results on it show that the machinery works (readers, binning,
decoders, adaptation), not that a decoder works in a brain. Every `Recording` it returns has `synthetic=True`.

Behaviour. Each trial: rest at the centre, a straight reach to one of `n_targets` targets on a circle of radius
`reach_cm`, a hold, a straight return, and rest. Each movement follows the minimum-jerk profile
s(u) = 10u^3 - 15u^4 + 6u^5 (u = time / duration), whose velocity is bell-shaped (Flash & Hogan, 1985); the
duration is drawn per movement from `move_s`. Kinematics are exact (analytic derivatives), sampled every
`sample_s` (4 ms, as the NeuroBench files).

Units (Georgopoulos et al., 1982 cosine tuning, rectified): the rate of unit u at time t is
    r_u(t) = max(0, b_u + m_u * (v(t + lead_s) . d_u) / v_ref + k_u * |v(t + lead_s)| / v_ref)
with baseline b_u (Hz), modulation depth m_u (Hz), preferred direction d_u (unit vector), speed gain k_u and
v_ref = `v_ref_cm_s`; the neural activity leads the movement by `lead_s`. Spikes are Bernoulli draws with
probability r_u * dt_s per `dt_s` step (a Poisson process at 1 ms resolution), placed uniformly inside the step.

Subjects differ in preferred directions, baselines and depths (drawn per subject). Sessions of one subject drift
(a random walk, session to session): the depth of each unit is multiplied by exp(N(0, gain_drift)), its baseline
by exp(N(0, baseline_drift)); a fraction `loss` of the units falls silent (rate `silent_hz`) and a fraction
`turnover` is replaced by a new unit with fresh tuning (same channel, different neuron).

Determinism: `numpy.random.SeedSequence(seed)` spawns one child per subject, and each subject's child one per
session, so the same seed gives the same bytes and subject k does not depend on how many subjects are made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.train.data.intracortical.recording import KINEMATICS, Recording

__all__ = ["SyntheticReachingConfig", "Tuning", "make_synthetic_reaching", "synthetic_tuning"]


@dataclass(frozen=True, kw_only=True)
class SyntheticReachingConfig:
    """Parameters of the synthetic reaching data (defaults: a small, fast, decodable data set)."""

    n_subjects: int = 2
    sessions_per_subject: int = 3
    n_units: int = 32
    trials_per_session: int = 40
    n_targets: int = 8
    reach_cm: float = 8.0
    move_s: tuple[float, float] = (0.45, 0.75)
    """Range of movement durations, seconds (uniform)."""
    rest_s: float = 0.2
    hold_s: float = 0.2
    dt_s: float = 0.001
    """Step of the spike generator, seconds."""
    sample_s: float = 0.004
    """Behaviour sample period, seconds."""
    lead_s: float = 0.1
    """Neural activity leads the movement by this much, seconds."""
    v_ref_cm_s: float = 20.0
    baseline_hz: tuple[float, float] = (5.0, 30.0)
    depth_hz: tuple[float, float] = (4.0, 16.0)
    speed_gain_hz: tuple[float, float] = (0.0, 10.0)
    gain_drift: float = 0.2
    """Standard deviation of the log depth change per session."""
    baseline_drift: float = 0.15
    """Standard deviation of the log baseline change per session."""
    loss: float = 0.1
    """Fraction of the live units that fall silent per session."""
    turnover: float = 0.1
    """Fraction of the units replaced by a new, differently tuned unit per session."""
    silent_hz: float = 0.5


@dataclass(frozen=True)
class Tuning:
    """Tuning of every unit in one session (arrays of shape (units,))."""

    preferred_rad: np.ndarray
    baseline_hz: np.ndarray
    depth_hz: np.ndarray
    speed_gain_hz: np.ndarray
    silent: np.ndarray
    """bool: unit lost (fires at `silent_hz`, untuned)."""


def _draw_units(rng: np.random.Generator, cfg: SyntheticReachingConfig, n: int) -> tuple[np.ndarray, ...]:
    return (rng.uniform(0, 2 * np.pi, n), rng.uniform(*cfg.baseline_hz, n), rng.uniform(*cfg.depth_hz, n),
            rng.uniform(*cfg.speed_gain_hz, n))


def synthetic_tuning(cfg: SyntheticReachingConfig, seed: int) -> list[list[Tuning]]:
    """Tuning per subject and session: `[subject][session]`, drifting from session to session."""
    root = np.random.SeedSequence(seed)
    out = []
    for child in root.spawn(cfg.n_subjects):
        subject_seed, *session_seeds = child.spawn(1 + cfg.sessions_per_subject)
        pd, base, depth, speed = _draw_units(np.random.default_rng(subject_seed), cfg, cfg.n_units)
        silent = np.zeros(cfg.n_units, dtype=bool)
        sessions = []
        for k, s_seed in enumerate(session_seeds):
            rng = np.random.default_rng(s_seed.spawn(1)[0])
            if k > 0:
                depth = depth * np.exp(rng.normal(0.0, cfg.gain_drift, cfg.n_units))
                base = base * np.exp(rng.normal(0.0, cfg.baseline_drift, cfg.n_units))
                silent = silent | ((rng.random(cfg.n_units) < cfg.loss) & ~silent)
                new = rng.random(cfg.n_units) < cfg.turnover
                fresh = _draw_units(rng, cfg, cfg.n_units)
                pd, base, depth, speed = (np.where(new, f, old) for f, old in zip(fresh, (pd, base, depth, speed),
                                                                                  strict=True))
                silent = silent & ~new
            sessions.append(Tuning(pd.copy(), base.copy(), depth.copy(), speed.copy(), silent.copy()))
        out.append(sessions)
    return out


def _plan(rng: np.random.Generator, cfg: SyntheticReachingConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Trials and their movements: (starts_s, stops_s, directions_rad, [(t_start, duration, from, to)])."""
    moves, starts, stops, dirs = [], [], [], []
    now = 0.0
    for _ in range(cfg.trials_per_session):
        theta = 2 * np.pi * rng.integers(cfg.n_targets) / cfg.n_targets
        target = cfg.reach_cm * np.array([np.cos(theta), np.sin(theta)])
        d_out, d_back = rng.uniform(*cfg.move_s, 2)
        starts.append(now)
        dirs.append(theta)
        moves.append((now + cfg.rest_s, d_out, np.zeros(2), target))
        moves.append((now + cfg.rest_s + d_out + cfg.hold_s, d_back, target, np.zeros(2)))
        now += 2 * cfg.rest_s + d_out + cfg.hold_s + d_back
        stops.append(now)
    return np.asarray(starts), np.asarray(stops), np.asarray(dirs), moves


def _kinematics(t: np.ndarray, moves: list) -> np.ndarray:
    """(len(t), 6) pos, vel, acc (cm, cm/s, cm/s^2) of the minimum-jerk movements at times t."""
    out = np.zeros((t.size, 6))
    for t0, dur, a, b in moves:
        delta = b - a
        after = t >= t0 + dur
        out[after, 0:2] = b  # at rest at the end point until the next movement overwrites it
        inside = (t >= t0) & ~after
        u = (t[inside] - t0) / dur
        s = 10 * u**3 - 15 * u**4 + 6 * u**5
        ds = (30 * u**2 - 60 * u**3 + 30 * u**4) / dur
        dds = (60 * u - 180 * u**2 + 120 * u**3) / dur**2
        out[inside, 0:2] = a + s[:, None] * delta
        out[inside, 2:4] = ds[:, None] * delta
        out[inside, 4:6] = dds[:, None] * delta
    return out


def _session(rng: np.random.Generator, cfg: SyntheticReachingConfig, tuning: Tuning, subject: int,
             session: int) -> Recording:
    starts, stops, dirs, moves = _plan(rng, cfg)
    n_fine = round(stops[-1] / cfg.dt_s)
    t_fine = np.arange(n_fine) * cfg.dt_s
    kin_lead = _kinematics(t_fine + cfg.lead_s, moves)
    vel = kin_lead[:, 2:4] / cfg.v_ref_cm_s
    direction = np.stack([np.cos(tuning.preferred_rad), np.sin(tuning.preferred_rad)])  # (2, units)
    speed = np.linalg.norm(vel, axis=1, keepdims=True)
    rate = tuning.baseline_hz + tuning.depth_hz * (vel @ direction) + tuning.speed_gain_hz * speed
    rate = np.where(tuning.silent, cfg.silent_hz, np.maximum(rate, 0.0))
    unit, step = np.nonzero((rng.random(rate.shape) < rate * cfg.dt_s).T)  # unit-major, steps ascending
    times = (step + rng.random(step.size)) * cfg.dt_s  # uniform position inside the 1 ms step
    trains = tuple(np.split(times, np.searchsorted(unit, np.arange(1, cfg.n_units))))
    stride = round(cfg.sample_s / cfg.dt_s)
    t_samples = t_fine[::stride]
    return Recording(
        source="synthetic", path=None, subject=f"synthetic-s{subject}", session=f"synthetic-s{subject}-d{session}",
        unit_names=tuple(f"ch{u:03d}" for u in range(cfg.n_units)), spike_times=trains, time_s=t_samples,
        behaviour=_kinematics(t_samples, moves), behaviour_names=KINEMATICS, trial_start_s=starts,
        trial_stop_s=stops, trial_info={"target_direction": dirs}, synthetic=True,
        description=f"SYNTHETIC center-out reaching, subject {subject}, session {session}: {cfg.n_units} "
                    f"cosine-tuned Poisson units, {cfg.trials_per_session} trials",
    )


def make_synthetic_reaching(cfg: SyntheticReachingConfig | None = None, seed: int = 0) -> list[Recording]:
    """Every session of every synthetic subject, subject-major: [s0-d0, s0-d1, ..., s1-d0, ...]."""
    cfg = cfg or SyntheticReachingConfig()
    tunings = synthetic_tuning(cfg, seed)
    recordings = []
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(cfg.n_subjects)):
        session_seeds = child.spawn(1 + cfg.sessions_per_subject)[1:]
        for k, s_seed in enumerate(session_seeds):
            rng = np.random.default_rng(s_seed.spawn(2)[1])
            recordings.append(_session(rng, cfg, tunings[i][k], i, k))
    return recordings
