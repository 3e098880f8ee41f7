"""Two-sample tests, effect sizes and the drift decision rule.

A signal (one band, NDVI, the nodata share, the model's features...) is declared drifted only when
**both** hold:

* its effect size reaches a threshold: PSI on the baseline's fixed bins, Wasserstein distance
  normalised by the baseline's spread, a difference of shares, or MMD²; and
* its two-sample test is significant after correction for multiple testing (KS on per-chip values,
  or a permutation test of MMD).

Effect size alone would flag any sampling wobble of a small batch; significance alone flags
trivial differences once samples are large. Tests sample **chips**, not pixels: pixels of one chip
are not independent, so pixel-level p-values would be far too small. For the bands and NDVI the
monitor (:mod:`planet_sentinel.drift.monitor`) compares per-chip means **per date** (before,
after; the two p-values Bonferroni-combined), because new imagery usually changes one date (a new
acquisition against archived ones): a 5 % calibration change of the after date moves the pooled
pixel distribution by only ~2.5 %, which PSI (< 0.05) and the pooled Wasserstein distance (~0.1)
barely register, while the after date's chip means move by the full 5 %. The Wasserstein distance
between the dates' chip-mean distributions is normalised by the band's **pixel** standard
deviation (the baseline's ``per_band.std``), so 0.1 keeps evidently's meaning: a shift of a tenth of
the band's spread.

Defaults (:class:`Thresholds`) and why:

* ``alpha = 0.05`` after **Holm** correction. 0.05 is the default of alibi-detect (``KSDrift``
  and ``MMDDrift`` ``p_val=0.05``, Bonferroni correction by default), evidently (KS p 0.05 for
  small samples) and NannyML (KS p < 0.05 alerts). Holm rather than Benjamini-Hochberg: the monitor
  answers one question per run, "is there drift?", and one false band is one false alarm, so the
  error to control is the family-wise error rate (FWER). Holm controls it in the strong sense
  under any dependence between the tests (our band tests are strongly correlated: haze raises
  every visible band), is uniformly more powerful than alibi-detect's Bonferroni default, and
  keeps the list of drifted signals trustworthy too; BH controls only the false discovery rate,
  which equals the FWER only when nothing drifted, and needs positive dependence to hold.
* ``psi_warn = 0.1`` / ``psi = 0.2``: the credit-scoring convention behind evidently's PSI
  threshold of 0.1: below 0.1 no change, 0.1-0.2 moderate (reported as ``warn``), 0.2 and above
  significant (a drift-sized effect).
* ``wasserstein = 0.1``: evidently's default for numerical features with more than 1000
  observations is the Wasserstein distance normalised by the reference standard deviation, drift
  at 0.1 (a tenth of a standard deviation of the baseline).
* ``share_difference = 0.1``: nodata, cloud and predicted-change shares are fractions; a change
  of the mean share by 10 percentage points is the smallest we call drift (a tenth of the range,
  the same "0.1 of the scale" reading as the Wasserstein rule).
* ``mmd = 0.02`` (unbiased MMD² with a Gaussian kernel on features standardised by the reference,
  median-heuristic bandwidth as in alibi-detect's ``MMDDrift``): for Gaussian features shifted by
  ``d`` reference standard deviations in every dimension, MMD² is about ``d²/e`` for small ``d``
  and many dimensions, so 0.02 is reached near ``d = 0.23``, about twice the 0.1 of the band rule
  (encoder features are averaged over a whole chip and so vary less than pixels). There is no
  reference default for an MMD effect size: alibi-detect tests MMD on significance alone.
* ``n_permutations = 1000`` (alibi-detect defaults to 100): after Holm over about ten tests the
  smallest p-value must be below about 0.005, which 100 permutations (smallest p 1/101) cannot
  reach.
* ``min_chips = 10``: below ten chips on either side the KS test cannot reach a corrected 0.05
  (the exact two-sided KS p-value of 5 vs 5 chips is at least 0.008), so a "pass" would be a
  guess: the signal is reported ``insufficient`` instead. MMD needs ``min_mmd_chips = 20`` per
  side for a meaningful median-heuristic bandwidth and permutation distribution.

Calibration (``python -m tools bench drift``): with these defaults, new data of 16 simulated scenes
against baselines of 48, false alarms and power for a 5 % gain, haze, a season shift and another
land-cover mix are measured there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

#: Status of a signal after :func:`decide`.
PASS, WARN, DRIFT, INSUFFICIENT, UNAVAILABLE = "pass", "warn", "drift", "insufficient", "unavailable"
#: Floor for empty-bin proportions in PSI (evidently replaces zero shares with 0.0001 too).
PSI_EPSILON = 1e-4


class Thresholds(BaseModel):
    """Decision thresholds; the module docstring gives the reason for each default."""

    alpha: float = Field(default=0.05, gt=0, lt=1, description="family-wise significance level after correction")
    correction: Literal["holm", "bh"] = Field(default="holm", description="multiple-testing correction")
    psi_warn: float = Field(default=0.1, gt=0, description="PSI of a moderate shift (reported as warn)")
    psi: float = Field(default=0.2, gt=0, description="PSI of a significant shift (drift-sized effect)")
    wasserstein: float = Field(default=0.1, gt=0, description="Wasserstein distance / baseline std")
    share_difference: float = Field(default=0.1, gt=0, description="difference of mean shares (0..1)")
    mmd: float = Field(default=0.02, gt=0, description="MMD² of standardised encoder features")
    n_permutations: int = Field(default=1000, ge=100, description="permutations of the MMD test")
    min_chips: int = Field(default=10, ge=2, description="fewest chips per side for a KS test")
    min_mmd_chips: int = Field(default=20, ge=4, description="fewest chips per side for the MMD test")


# --------------------------------------------------------------------------------------------
# Tests and effect sizes
# --------------------------------------------------------------------------------------------


def ks_test(reference: Sequence[float] | np.ndarray, new: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Two-sample two-sided Kolmogorov-Smirnov test: (statistic D, p-value)."""
    from scipy import stats

    ref = finite_values(reference)
    cur = finite_values(new)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan"), float("nan")
    result = stats.ks_2samp(ref, cur, alternative="two-sided", method="auto")
    return float(result.statistic), float(result.pvalue)


def psi(
    reference_counts: Sequence[float] | np.ndarray,
    new_counts: Sequence[float] | np.ndarray,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index on fixed bins: sum (q - p) ln(q / p), empty shares floored."""
    p = np.asarray(reference_counts, np.float64)
    q = np.asarray(new_counts, np.float64)
    if p.shape != q.shape:
        raise ValueError(f"PSI needs the same bins: {p.shape} vs {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p = np.maximum(p / p.sum(), epsilon)
    q = np.maximum(q / q.sum(), epsilon)
    return float(((q - p) * np.log(q / p)).sum())


def wasserstein_normalised(
    reference: Sequence[float] | np.ndarray,
    new: Sequence[float] | np.ndarray,
    scale: float,
    reference_weights: Sequence[float] | np.ndarray | None = None,
    new_weights: Sequence[float] | np.ndarray | None = None,
) -> float:
    """First Wasserstein distance between two samples (or weighted histograms) divided by ``scale``
    (the baseline's standard deviation)."""
    from scipy import stats

    if not scale or not math.isfinite(scale) or scale <= 0:
        return float("nan")
    ref = np.asarray(reference, np.float64)
    cur = np.asarray(new, np.float64)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    if reference_weights is not None and float(np.sum(reference_weights)) <= 0:
        return float("nan")
    if new_weights is not None and float(np.sum(new_weights)) <= 0:
        return float("nan")
    return float(stats.wasserstein_distance(ref, cur, reference_weights, new_weights)) / scale


def _pairwise_sq(x: np.ndarray) -> np.ndarray:
    sq = (x * x).sum(axis=1)
    d = sq[:, None] + sq[None, :] - 2.0 * x @ x.T
    return np.asarray(np.maximum(d, 0.0))


def mmd_permutation_test(
    reference: np.ndarray, new: np.ndarray, n_permutations: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Unbiased MMD² with a Gaussian kernel and its permutation p-value.

    Features are standardised by the reference's mean and standard deviation; the kernel
    bandwidth is the median pairwise distance of the pooled sample (the median heuristic, as in
    alibi-detect). The p-value is ``(1 + #{permuted MMD² >= observed}) / (1 + n_permutations)``.
    """
    x = np.asarray(reference, np.float64)
    y = np.asarray(new, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"MMD needs two (n, d) arrays with the same d: {x.shape} vs {y.shape}")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std <= 1e-12] = 1.0
    z = (np.concatenate([x, y]) - mean) / std
    d2 = _pairwise_sq(z)
    n = len(z)
    off = d2[~np.eye(n, dtype=bool)]
    sigma2 = float(np.median(off)) / 2 if off.size else 1.0
    sigma2 = sigma2 if sigma2 > 0 else 1.0
    kernel = np.exp(-d2 / (2 * sigma2))
    np.fill_diagonal(kernel, 0.0)
    nx, ny = len(x), len(y)

    def mmd2(index: np.ndarray) -> float:
        a, b = index[:nx], index[nx:]
        kxx = kernel[np.ix_(a, a)].sum() / (nx * (nx - 1))
        kyy = kernel[np.ix_(b, b)].sum() / (ny * (ny - 1))
        kxy = kernel[np.ix_(a, b)].sum() / (nx * ny)
        return float(kxx + kyy - 2 * kxy)

    observed = mmd2(np.arange(n))
    rng = np.random.default_rng(seed)
    exceed = sum(mmd2(rng.permutation(n)) >= observed for _ in range(n_permutations))
    return {"mmd2": observed, "p_value": (1 + exceed) / (1 + n_permutations), "bandwidth": math.sqrt(sigma2)}


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> list[float]:
    """Holm (step-down FWER) or Benjamini-Hochberg (step-up FDR) adjusted p-values, in input order."""
    p = np.asarray(pvalues, np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}; expected holm or bh")
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out.tolist()


def finite_values(values: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as float64 (None, NaN and infinities dropped): what a test
    of two samples compares."""
    if isinstance(values, np.ndarray):
        arr = values.astype(np.float64, copy=False)
    else:
        arr = np.asarray([v for v in values if v is not None], np.float64)
    return arr[np.isfinite(arr)]


# --------------------------------------------------------------------------------------------
# Signals and the decision
# --------------------------------------------------------------------------------------------


@dataclass
class Signal:
    """One compared quantity: its test, effect sizes, thresholds and, after :func:`decide`, status.

    ``effects`` maps effect-size names to values; ``limits`` maps the same names to the value at
    which the effect counts as drift-sized. ``warn_limits`` (optional) give a lower warning level.
    """

    name: str
    group: str
    test: str
    n_reference: int
    n_new: int
    statistic: float | None = None
    p_value: float | None = None
    effects: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    warn_limits: dict[str, float] = field(default_factory=dict)
    description: str = ""
    p_adjusted: float | None = None
    status: str = "pending"
    reason: str = ""
    min_samples: int = 0

    @property
    def testable(self) -> bool:
        return self.status == "pending" and self.p_value is not None and math.isfinite(self.p_value)

    def large_effects(self) -> list[str]:
        return [k for k, v in self.effects.items() if k in self.limits and _ge(v, self.limits[k])]

    def to_dict(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in asdict(self).items()}


def _ge(value: float | None, limit: float) -> bool:
    return value is not None and math.isfinite(value) and value >= limit


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def unavailable(name: str, group: str, test: str, reason: str, n_reference: int = 0, n_new: int = 0) -> Signal:
    """A signal that could not be computed (missing bands, no model, no reference chips)."""
    return Signal(name, group, test, n_reference, n_new, status=UNAVAILABLE, reason=reason)


def guard(signal: Signal, min_samples: int) -> Signal:
    """Mark a signal ``insufficient`` when either side has fewer than ``min_samples`` chips."""
    signal.min_samples = min_samples
    if signal.status == "pending" and min(signal.n_reference, signal.n_new) < min_samples:
        signal.status = INSUFFICIENT
        signal.reason = (
            f"too few chips to test: {signal.n_reference} reference and {signal.n_new} new, "
            f"at least {min_samples} each are needed; effect sizes are shown but not judged"
        )
    return signal


#: What a monitor run concludes.
Verdict = Literal["drift", "no_drift", "inconclusive"]


class Decision(BaseModel):
    """The monitor's verdict over all signals (drift.json's ``decision`` adds the exit code:
    :class:`~planet_sentinel.drift.types.DecisionRecord`)."""

    model_config = ConfigDict(extra="forbid")

    drift: bool
    status: Verdict
    drifted: list[str]
    warnings: list[str]
    insufficient: list[str]
    unavailable: list[str]
    tested: int
    correction: str
    alpha: float
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def decide(signals: list[Signal], thresholds: Thresholds) -> Decision:
    """Correct the p-values of all testable signals together and set each signal's status.

    drift: a drift-sized effect AND corrected p < alpha. warn: a drift-sized effect without
    significance, or a warning-sized effect (PSI 0.1-0.2) with significance. pass: otherwise.
    The run drifts if any signal does; it is inconclusive if nothing could be tested.
    """
    testable = [s for s in signals if s.testable]
    adjusted = adjust_pvalues([s.p_value for s in testable], thresholds.correction)  # type: ignore[misc]
    for s, p in zip(testable, adjusted, strict=True):
        s.p_adjusted = p
        significant = p < thresholds.alpha
        large = s.large_effects()
        moderate = [k for k, v in s.effects.items() if k in s.warn_limits and _ge(v, s.warn_limits[k])]
        if large and significant:
            s.status = DRIFT
            s.reason = (
                f"{', '.join(large)} above threshold and p = {p:.2g} < {thresholds.alpha} ({thresholds.correction})"
            )
        elif large:
            s.status = WARN
            s.reason = f"{', '.join(large)} above threshold but not significant (p = {p:.2g})"
        elif moderate and significant:
            s.status = WARN
            s.reason = f"moderate {', '.join(moderate)} and p = {p:.2g}"
        else:
            s.status = PASS
            s.reason = (
                "significant but effect below threshold (trivial difference)"
                if significant
                else "effect below threshold, not significant"
            )
    for s in signals:
        if s.status == "pending":  # a test that returned no p-value (e.g. all values NaN)
            s.status = INSUFFICIENT
            s.reason = s.reason or "no finite values to test"
    drifted = [s.name for s in signals if s.status == DRIFT]
    warnings = [s.name for s in signals if s.status == WARN]
    insufficient = [s.name for s in signals if s.status == INSUFFICIENT]
    missing = [s.name for s in signals if s.status == UNAVAILABLE]
    status: Verdict
    if drifted:
        status = "drift"
        summary = f"drift detected in {len(drifted)} of {len(testable)} tested signals: {', '.join(drifted)}"
    elif testable:
        status, summary = "no_drift", f"no drift in {len(testable)} tested signals"
    else:
        status, summary = "inconclusive", "no signal had enough data to be tested; no decision"
    if insufficient and status != "inconclusive":
        summary += f"; too few chips to test {', '.join(insufficient)}"
    return Decision(
        drift=bool(drifted),
        status=status,
        drifted=drifted,
        warnings=warnings,
        insufficient=insufficient,
        unavailable=missing,
        tested=len(testable),
        correction=thresholds.correction,
        alpha=thresholds.alpha,
        summary=summary,
    )
