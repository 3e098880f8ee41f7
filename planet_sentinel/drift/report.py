"""The drift report: ``drift.json`` for machines, ``drift.md`` for people, PNG plots for both.

``drift.json`` carries the decision, every signal's statistics (test statistic, raw and corrected
p-value, effect sizes, thresholds, sample sizes, status and reason), the thresholds in force, and
the identity of what was compared: the baseline (path, schema version, generator, creation time,
source fingerprint) and the model (URI or file, registry version, training-data fingerprint).
``drift.md`` is a GitHub-flavoured summary with a table of signals and their pass/fail, ready for
an issue body or ``$GITHUB_STEP_SUMMARY``. ``bands.png`` overlays baseline and new histograms
per band (and NDVI); ``features.png`` summarises every signal's effect size against its threshold
and, with a model, the encoder features of both sides projected on their first two principal
components.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from planet_sentinel.baseline import NDVI_EDGES, REFLECTANCE_EDGES
from planet_sentinel.drift.statistics import DRIFT, INSUFFICIENT, PASS, UNAVAILABLE, WARN, Signal
from planet_sentinel.drift.types import REPORT_SCHEMA, REPORT_VERSION, DriftReport, MonitorResult
from planet_sentinel.raster import refuse_existing, write_text_atomic

__all__ = [
    "FILES",
    "REPORT_SCHEMA",
    "REPORT_VERSION",
    "markdown",
    "plot_bands",
    "plot_features",
    "report",
    "write_report",
]
FILES = {"json": "drift.json", "markdown": "drift.md", "bands_png": "bands.png", "features_png": "features.png"}
_MARK = {PASS: "pass", WARN: "warn", DRIFT: "**DRIFT**", INSUFFICIENT: "too few chips", UNAVAILABLE: "n/a"}
_COLOUR = {PASS: "#4c9a2a", WARN: "#e0a100", DRIFT: "#c0392b", INSUFFICIENT: "#7f8c8d", UNAVAILABLE: "#bdc3c7"}


def report(result: MonitorResult, files: dict[str, str] | None = None) -> DriftReport:
    """The machine-readable report (what ``drift.json`` holds)."""
    baseline = result.baseline
    new = result.new
    model_sizes = {}
    for s in result.signals:
        if s.group == "model" and s.status != UNAVAILABLE:
            model_sizes = {"model_reference_chips": s.n_reference, "model_new_chips": s.n_new}
    new_data = {k: v for k, v in new.source.items() if k != "chips_dirs" or new.source.get("kind") == "chips"}
    new_data |= {"n_chips": new.n_chips, "n_scenes": new.n_groups, "bands": new.bands, "pixel_rule": new.pixel_rule}
    return DriftReport.model_validate(
        {
            "schema_version": REPORT_VERSION,
            "decision": {**result.decision.to_dict(), "exit_code": result.exit_code},
            "thresholds": result.thresholds,
            "sample_sizes": {
                "baseline_chips": baseline.n_chips,
                "new_chips": new.n_chips,
                "chip_size": new.chip_size,
                **model_sizes,
            },
            "signals": [s.to_dict() for s in result.signals],
            "baseline": {
                "path": result.context.get("baseline_path"),
                "schema": baseline.schema_id,
                "schema_version": baseline.schema_version,
                "generator": baseline.generator,
                "created": baseline.created,
                "fingerprint": baseline.source.fingerprint,
                "split": baseline.source.split,
                "n_chips": baseline.n_chips,
                "n_scenes": len(baseline.source.chips_dirs),
                "bands": baseline.bands,
                "chip_size": baseline.chip_size,
            },
            # provenance bags: plain JSON values (numpy scalars and paths as numbers and text)
            "new_data": _plain(new_data),
            "model": _plain(result.model),
            "context": _plain(result.context),
            "files": files or {},
        }
    )


def write_report(result: MonitorResult, out_dir: str | Path, overwrite: bool = True) -> dict[str, Path]:
    """Write drift.json, drift.md, bands.png and features.png into ``out_dir``."""
    out = Path(out_dir)
    paths = {k: out / name for k, name in FILES.items()}
    refuse_existing(list(paths.values()), overwrite)
    out.mkdir(parents=True, exist_ok=True)
    data = report(result, {k: p.name for k, p in paths.items()})
    data.save(paths["json"])
    plot_bands(result, paths["bands_png"])
    plot_features(result, paths["features_png"])
    write_text_atomic(paths["markdown"], markdown(result, data))
    return paths


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def _effects_cell(signal: Signal) -> str:
    parts = []
    for key, value in signal.effects.items():
        limit = signal.limits.get(key)
        text = f"{key} {_fmt(value)}"
        if limit is not None:
            text += f" (≥ {limit:g})"
        parts.append(text)
    return "; ".join(parts) or "–"


def markdown(result: MonitorResult, data: DriftReport | None = None) -> str:
    """A GitHub-flavoured report: verdict, table of signals, thresholds, provenance."""
    data = data or report(result)
    base = data.baseline
    d = result.decision
    verdict = {"drift": "DRIFT DETECTED", "no_drift": "no drift", "inconclusive": "INCONCLUSIVE"}[d.status]
    lines = [
        f"## Drift monitor: {verdict}",
        "",
        f"{d.summary}.",
        "",
        f"Baseline `{base.path}` ({base.n_chips} chips, fingerprint "
        f"`{base.fingerprint}`, {base.generator}, {base.created}) vs new "
        f"data `{data.new_data.get('path')}` ({result.new.n_chips} chips of {result.new.chip_size} px from "
        f"{result.new.n_groups} {'scenes' if data.new_data.get('kind') == 'scenes' else 'chips directories'}; "
        f"valid pixels by {result.new.pixel_rule}).",
    ]
    if result.model:
        reg = result.model.get("registry") or {}
        version = f", version {reg['version']}" if reg.get("version") else ""
        lines.append(
            f"Model `{result.model['spec']}`{version}, training-data fingerprint "
            f"`{result.model.get('fingerprint') or '–'}`."
        )
    lines += [
        "",
        "| signal | result | effect sizes (drift at) | test | statistic | p (corrected) | chips ref / new |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in result.signals:
        p = f"{_fmt(s.p_value, 4)} ({_fmt(s.p_adjusted, 4)})" if s.p_value is not None else "–"
        lines.append(
            f"| {s.name} | {_MARK.get(s.status, s.status)} | {_effects_cell(s)} | {s.test} | "
            f"{_fmt(s.statistic)} | {p} | {s.n_reference} / {s.n_new} |"
        )
    t = result.thresholds
    lines += [
        "",
        f"Drift = effect size at or above its threshold **and** {t.correction.upper()}-corrected p < {t.alpha} "
        f"(KS on per-chip values, permutation test for MMD). Thresholds: PSI {t.psi_warn}/{t.psi} (warn/drift), "
        f"Wasserstein/std {t.wasserstein}, share difference {t.share_difference}, MMD² {t.mmd}; at least "
        f"{t.min_chips} chips per side for a KS test, {t.min_mmd_chips} for MMD.",
    ]
    flagged = (INSUFFICIENT, UNAVAILABLE, WARN, DRIFT)
    notes = [f"- **{s.name}**: {s.reason}" for s in result.signals if s.status in flagged]
    if notes:
        lines += ["", "Notes:", *notes]
    if result.model and result.model.get("reference_note"):
        lines += [f"- model reference: {result.model['reference_note']}"]
    lines += [
        "",
        f"Plots: `{FILES['bands_png']}` (per-band histograms), `{FILES['features_png']}` (feature drift).",
        f"Exit code {data.decision.exit_code} (0 no drift, 3 drift, 4 inconclusive).",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return fig, axes


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    from planet_sentinel.raster import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def _density(counts: list[int] | np.ndarray) -> np.ndarray:
    c = np.asarray(counts, np.float64)
    return c / c.sum() if c.sum() > 0 else c


def plot_bands(result: MonitorResult, path: Path) -> None:
    """Baseline vs new histograms (share of valid pixels per bin) for each band and NDVI."""
    status = {s.name: s.status for s in result.signals}
    panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, str]] = []
    edges = np.asarray(REFLECTANCE_EDGES[:-1], np.float64) / 10000  # drop the overflow bin
    for band in result.new.bands:
        ref = _density(result.baseline.per_band[band].histogram)[:-1]
        cur = _density(result.new.stats.per_band[band].histogram)[:-1]
        panels.append((band, edges, ref, cur, status.get(f"band {band}", PASS)))
    if result.new.stats.ndvi.count and result.baseline.ndvi.count:
        panels.append(
            (
                "NDVI",
                np.asarray(NDVI_EDGES),
                _density(result.baseline.ndvi.histogram),
                _density(result.new.stats.ndvi.histogram),
                status.get("ndvi", PASS),
            )
        )
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = _figure(rows, cols, (3.4 * cols, 2.6 * rows))
    for ax, (name, e, ref, cur, st) in zip(axes.flat, panels, strict=False):
        keep = np.flatnonzero((ref > 1e-4) | (cur > 1e-4))
        lo, hi = (keep[0], keep[-1] + 1) if len(keep) else (0, len(ref))
        ax.stairs(ref[lo:hi], e[lo : hi + 1], fill=True, alpha=0.35, color="#34495e", label="baseline")
        ax.stairs(cur[lo:hi], e[lo : hi + 1], color=_COLOUR.get(st, "black"), linewidth=1.6, label="new")
        ax.set_title(f"{name}: {st}", fontsize=10, color=_COLOUR.get(st, "black"))
        ax.set_xlabel("NDVI" if name == "NDVI" else "reflectance", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Drift monitor: {result.decision.status}", fontsize=11)
    _save(fig, path)


def plot_features(result: MonitorResult, path: Path) -> None:
    """Effect size / threshold of every signal (bars coloured by status) and, with a model, the
    encoder features of baseline and new chips on their first two principal components."""
    signals = [s for s in result.signals if s.status != UNAVAILABLE]
    model = result.new.model
    reference = result.model_reference.features if result.model_reference is not None else None
    with_pca = model is not None and reference is not None and len(model.features) > 1
    fig, axes = _figure(1, 2 if with_pca else 1, (12 if with_pca else 7, 0.35 * max(len(signals), 6) + 1.2))
    ax = axes.flat[0]
    names, ratios, colours = [], [], []
    for s in signals:
        ratio = max(
            (v / s.limits[k] for k, v in s.effects.items() if k in s.limits and v is not None and math.isfinite(v)),
            default=0.0,
        )
        names.append(s.name)
        ratios.append(ratio)
        colours.append(_COLOUR.get(s.status, "black"))
    y = np.arange(len(names))
    ax.barh(y, ratios, color=colours)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("largest effect size / its drift threshold (colour: result)", fontsize=8)
    ax.set_title("Feature drift summary", fontsize=10)
    if with_pca:
        ref = np.asarray(reference, np.float64)
        cur = np.asarray(model.features, np.float64)  # type: ignore[union-attr]
        mean, std = ref.mean(axis=0), ref.std(axis=0)
        std[std <= 1e-12] = 1
        zr, zc = (ref - mean) / std, (cur - mean) / std
        _, _, vt = np.linalg.svd(zr - zr.mean(axis=0), full_matrices=False)
        pr, pc = zr @ vt[:2].T, zc @ vt[:2].T
        ax2 = axes.flat[1]
        ax2.scatter(pr[:, 0], pr[:, 1], s=8, alpha=0.5, color="#34495e", label="baseline chips")
        ax2.scatter(pc[:, 0], pc[:, 1], s=8, alpha=0.6, color="#c0392b", label="new chips")
        mmd = next((s for s in result.signals if s.name == "encoder_mmd"), None)
        title = "encoder features (PCA of baseline)"
        if mmd is not None and mmd.statistic is not None:
            title += f": MMD² {_fmt(mmd.statistic, 4)}, p {_fmt(mmd.p_value, 4)}"
        ax2.set_title(title, fontsize=9)
        ax2.legend(fontsize=7)
    _save(fig, path)
