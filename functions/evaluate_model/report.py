"""The evaluation report: a JSON document for machines and a self-contained HTML page for people.

The HTML page has no external assets (charts are inline SVG), so it opens from S3 or an email
attachment as it is.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

from functions.common.model_metrics import BinaryRows, MulticlassRows, RegressionRows, Rows
from functions.evaluate_model.evaluation import (
    GateDecision,
    confusion_matrix,
    lower_is_better,
    precision_recall_points,
    regression_points,
    roc_curve_points,
)

CHART_WIDTH_PX = 360
CHART_HEIGHT_PX = 300
# Regression views carry hundreds of points: a larger canvas keeps them apart.
LARGE_CHART_WIDTH_PX = 560
LARGE_CHART_HEIGHT_PX = 440
CHART_MARGIN_PX = 44
CHALLENGER_COLOR = "#1f6feb"
CHAMPION_COLOR = "#d4762c"
MAX_CONFUSION_CELL_PX = 56
# Colour-blind safe (Okabe-Ito), cycled for one line per class.
CLASS_COLORS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
MAX_ONE_VS_REST_CLASSES = 12


def model_section(rows: Rows, metrics: dict[str, float], intervals: dict[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    section: dict[str, Any] = {"metrics": metrics, "confidence_intervals": {k: list(v) for k, v in (intervals or {}).items()}}
    if isinstance(rows, BinaryRows):
        section["confusion_matrix"] = confusion_matrix(rows)
        section["roc_curve"] = roc_curve_points(rows)
        section["precision_recall_curve"] = precision_recall_points(rows)
        section["positive_rate"] = float(rows.y.mean())
    elif isinstance(rows, MulticlassRows):
        section["confusion_matrix"] = confusion_matrix(rows)
        section["one_vs_rest_roc"] = one_vs_rest_roc_curves(rows)
    elif isinstance(rows, RegressionRows):
        section["predicted_vs_actual"] = regression_points(rows)
    return section


def one_vs_rest_roc_curves(rows: MulticlassRows) -> dict[str, dict[str, list[float]]]:
    """Each class against the rest: its ROC curve from the class's probability (none without
    probabilities, or for a class absent from the test rows)."""
    if rows.proba is None:
        return {}
    curves = {}
    for index, label in enumerate(rows.classes[:MAX_ONE_VS_REST_CLASSES]):
        one_class = BinaryRows(
            (rows.y == index).astype(int), (rows.y_hat == index).astype(int), rows.proba[:, index], ("rest", str(label))
        )
        curve = roc_curve_points(one_class)
        if curve is not None:
            curves[str(label)] = curve
    return curves


def build_document(
    *,
    header: dict[str, Any],
    decision: GateDecision,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    primary_difference_interval: tuple[float, float] | None,
    reference_holdout: dict[str, Any] | None = None,
) -> dict[str, Any]:
    gates = header.get("gates") or {}
    return {
        # What a person reads first: the primary metric, the margin and both comparisons.
        "gate": {
            "primary_metric": header.get("primary_metric"),
            "passed": decision.passed,
            "min_improvement": gates.get("min_improvement"),
            "max_regression": gates.get("max_regression"),
            "comparisons": [compared.to_dict() for compared in decision.comparisons],
            "summary": decision.summary,
        },
        **header,
        "passed": decision.passed,
        "summary": decision.summary,
        "reasons": decision.reasons,
        "notes": decision.notes,
        "gate_checks": [
            {"gate": c.gate, "metric": c.metric, "passed": c.passed, "reason": c.reason} for c in decision.checks
        ],
        "challenger": challenger,
        "champion": champion,
        "reference_holdout": reference_holdout,
        "primary_metric_difference_interval": list(primary_difference_interval) if primary_difference_interval else None,
    }


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, allow_nan=False) + "\n"


# --- HTML ----------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "&ndash;"
    return f"{value:.4f}"


def _scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    if high == low:
        return (out_low + out_high) / 2
    return out_low + (value - low) / (high - low) * (out_high - out_low)


def line_chart_svg(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[tuple[str, Sequence[float], Sequence[float], str]],
    reference: tuple[tuple[float, float], tuple[float, float]] | None = None,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_range: tuple[float, float] = (0.0, 1.0),
    scatter: bool = False,
    size: tuple[int, int] = (CHART_WIDTH_PX, CHART_HEIGHT_PX),
) -> str:
    """An SVG chart; `series` are (name, xs, ys, color); `reference` is a dashed line ((x0, y0), (x1, y1))."""
    (w, h), m = size, CHART_MARGIN_PX
    left, right, top, bottom = m, w - 12, 28, h - m

    def px(x: float, y: float) -> tuple[float, float]:
        return (_scale(x, *x_range, left, right), _scale(y, *y_range, bottom, top))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{_e(title)}">',
        f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{_e(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#999"/>',
    ]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        x_value = x_range[0] + fraction * (x_range[1] - x_range[0])
        y_value = y_range[0] + fraction * (y_range[1] - y_range[0])
        gx, _ = px(x_value, y_range[0])
        _, gy = px(x_range[0], y_value)
        parts.append(f'<line x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{bottom}" stroke="#eee"/>')
        parts.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{right}" y2="{gy:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{gx:.1f}" y="{bottom + 14}" text-anchor="middle" font-size="10">{x_value:.3g}</text>')
        parts.append(f'<text x="{left - 4}" y="{gy + 3:.1f}" text-anchor="end" font-size="10">{y_value:.3g}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{h - 8}" text-anchor="middle" font-size="11">{_e(x_label)}</text>')
    parts.append(
        f'<text x="12" y="{(top + bottom) / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {(top + bottom) / 2})">{_e(y_label)}</text>'
    )
    if reference is not None:
        (x0, y0), (x1, y1) = px(*reference[0]), px(*reference[1])
        parts.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="#888" stroke-dasharray="4 4"/>')
    for index, (name, xs, ys, color) in enumerate(series):
        points = [px(x, y) for x, y in zip(xs, ys, strict=True)]
        if scatter:
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}" fill-opacity="0.5"/>' for x, y in points)
        else:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        legend_y = top + 14 + 14 * index
        parts.append(f'<rect x="{right - 110}" y="{legend_y - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{right - 96}" y="{legend_y}" font-size="11">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def confusion_matrix_svg(title: str, matrix: dict[str, Any]) -> str:
    labels: list[str] = matrix["labels"]
    counts: list[list[int]] = matrix["counts"]
    size = len(labels)
    cell = max(24, min(MAX_CONFUSION_CELL_PX, 300 // max(size, 1)))
    left, top = 90, 50
    w, h = left + cell * size + 16, top + cell * size + 40
    peak = max((max(row) for row in counts), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{_e(title)}">',
        f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{_e(title)}</text>',
        f'<text x="{left + cell * size / 2}" y="{top - 20}" text-anchor="middle" font-size="11">predicted</text>',
        f'<text x="12" y="{top + cell * size / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {top + cell * size / 2})">actual</text>',
    ]
    for j, label in enumerate(labels):
        parts.append(f'<text x="{left + cell * j + cell / 2}" y="{top - 5}" text-anchor="middle" font-size="10">{_e(label)}</text>')
        parts.append(f'<text x="{left - 6}" y="{top + cell * j + cell / 2 + 3}" text-anchor="end" font-size="10">{_e(label)}</text>')
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            shade = count / peak
            fill = f"rgba(31,111,235,{0.08 + 0.85 * shade:.2f})"
            text_color = "#fff" if shade > 0.55 else "#000"
            x, y = left + cell * j, top + cell * i
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff"/>')
            parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" font-size="11" fill="{text_color}">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _comparison_table(document: dict[str, Any]) -> str:
    challenger = document["challenger"]
    champion = document.get("champion") or {}
    champion_metrics: dict[str, float] = champion.get("metrics") or {}
    intervals = challenger.get("confidence_intervals") or {}
    primary = document["primary_metric"]
    names = list(dict.fromkeys([primary, *challenger["metrics"], *champion_metrics]))
    rows = []
    for name in names:
        value = challenger["metrics"].get(name)
        other = champion_metrics.get(name)
        interval = intervals.get(name)
        interval_text = f"{interval[0]:.4f} &ndash; {interval[1]:.4f}" if interval else "&ndash;"
        delta = value - other if value is not None and other is not None else None
        direction = "lower is better" if lower_is_better(name) else "higher is better"
        emphasis = ' class="primary"' if name == primary else ""
        rows.append(
            f"<tr{emphasis}><td>{_e(name)}</td><td>{_number(value)}</td><td>{interval_text}</td>"
            f"<td>{_number(other)}</td><td>{_number(delta)}</td><td>{direction}</td></tr>"
        )
    champion_heading = _e(champion.get("label") or "champion") if champion else "champion (none serving)"
    return (
        "<table><thead><tr><th>metric</th><th>challenger</th><th>95% CI</th>"
        f"<th>{champion_heading}</th><th>difference</th><th>direction</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _gate_table(document: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr class="{"pass" if c["passed"] else "fail"}"><td>{_e(c["gate"])}</td><td>{_e(c["metric"])}</td>'
        f'<td>{"passed" if c["passed"] else "failed"}</td><td>{_e(c["reason"])}</td></tr>'
        for c in document["gate_checks"]
    )
    return f"<table><thead><tr><th>gate</th><th>metric</th><th>result</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>"


def _charts(document: dict[str, Any]) -> str:
    challenger = document["challenger"]
    champion = document.get("champion")
    charts = []
    roc_series, pr_series = [], []
    for name, section, color in (("challenger", challenger, CHALLENGER_COLOR), ("champion", champion, CHAMPION_COLOR)):
        if not section:
            continue
        if section.get("roc_curve"):
            roc_series.append((name, section["roc_curve"]["fpr"], section["roc_curve"]["tpr"], color))
        if section.get("precision_recall_curve"):
            curve = section["precision_recall_curve"]
            pr_series.append((name, curve["recall"], curve["precision"], color))
    if roc_series:
        charts.append(line_chart_svg("ROC curve", "false positive rate", "true positive rate", roc_series, reference=((0, 0), (1, 1))))
    if pr_series:
        base_rate = challenger.get("positive_rate", 0.0)
        charts.append(
            line_chart_svg("Precision-recall curve", "recall", "precision", pr_series, reference=((0, base_rate), (1, base_rate)))
        )
    for name, section in (("challenger", challenger), ("champion", champion)):
        if section and section.get("confusion_matrix"):
            charts.append(confusion_matrix_svg(f"Confusion matrix ({name})", section["confusion_matrix"]))
    for name, section in (("challenger", challenger), ("champion", champion)):
        curves = (section or {}).get("one_vs_rest_roc") or {}
        if curves:
            series = [
                (label, curve["fpr"], curve["tpr"], CLASS_COLORS[index % len(CLASS_COLORS)])
                for index, (label, curve) in enumerate(curves.items())
            ]
            charts.append(line_chart_svg(
                f"One-vs-rest ROC ({name})", "false positive rate", "true positive rate", series,
                reference=((0, 0), (1, 1)), size=(LARGE_CHART_WIDTH_PX, LARGE_CHART_HEIGHT_PX),
            ))
    charts.extend(_regression_charts(challenger, champion))
    return "".join(f'<figure>{chart}</figure>' for chart in charts)


def _regression_charts(challenger: dict[str, Any], champion: dict[str, Any] | None) -> list[str]:
    """Predicted against actual on a square scale with the diagonal a perfect model would draw,
    and the residuals (predicted minus actual) against the prediction, where a trend or a funnel
    shows what the metrics average away."""
    scatter_series, residual_series = [], []
    for name, section, color in (("challenger", challenger, CHALLENGER_COLOR), ("champion", champion, CHAMPION_COLOR)):
        if section and section.get("predicted_vs_actual"):
            points = section["predicted_vs_actual"]
            scatter_series.append((name, points["actual"], points["predicted"], color))
            residuals = [p - a for a, p in zip(points["actual"], points["predicted"], strict=True)]
            residual_series.append((name, points["predicted"], residuals, color))
    if not scatter_series:
        return []
    values = [v for _, xs, ys, _ in scatter_series for v in (*xs, *ys)]
    low, high = min(values), max(values)
    predicted = [v for _, xs, _, _ in residual_series for v in xs]
    spread = max((abs(v) for _, _, ys, _ in residual_series for v in ys), default=0.0) or 1.0
    large = (LARGE_CHART_WIDTH_PX, LARGE_CHART_HEIGHT_PX)
    return [
        line_chart_svg(
            "Predicted vs actual", "actual", "predicted", scatter_series,
            reference=((low, low), (high, high)), x_range=(low, high), y_range=(low, high), scatter=True, size=large,
        ),
        line_chart_svg(
            "Residuals (predicted - actual)", "predicted", "residual", residual_series,
            reference=((min(predicted), 0.0), (max(predicted), 0.0)), x_range=(min(predicted), max(predicted)),
            y_range=(-spread, spread), scatter=True, size=large,
        ),
    ]


def per_class_table(matrix: dict[str, Any]) -> str:
    """Precision, recall, F1 and support of each class, from the confusion matrix (true labels as
    rows, predictions as columns)."""
    labels, counts = matrix["labels"], matrix["counts"]
    rows = []
    for index, label in enumerate(labels):
        correct = counts[index][index]
        support = sum(counts[index])
        predicted = sum(row[index] for row in counts)
        precision = correct / predicted if predicted else None
        recall = correct / support if support else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else None
        )
        rows.append(
            f"<tr><td>{_e(label)}</td><td>{_number(precision)}</td><td>{_number(recall)}</td>"
            f"<td>{_number(f1)}</td><td>{support}</td></tr>"
        )
    return (
        '<table class="per-class"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>'
        f"<th>rows</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _per_class_section(document: dict[str, Any]) -> str:
    if document.get("problem_type") != "multiclass":
        return ""
    parts = []
    for name in ("challenger", "champion"):
        matrix = (document.get(name) or {}).get("confusion_matrix")
        if matrix:
            parts.append(f"<h3>{_e(name)}</h3>{per_class_table(matrix)}")
    return f"<h2>Per class</h2>{''.join(parts)}" if parts else ""


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
.verdict{padding:.8rem 1rem;border-radius:6px;font-weight:600}
.verdict.pass{background:#e6f4ea;border:1px solid #34a853}.verdict.fail{background:#fce8e6;border:1px solid #d93025}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}th{background:#f6f8fa}
tr.primary td{font-weight:600}tr.fail td{background:#fce8e6}tr.pass td{background:#f3faf5}
figure{display:inline-block;margin:.5rem 1rem .5rem 0}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
dt{font-weight:600}code{font-size:.85rem}
"""


def render_html(document: dict[str, Any]) -> str:
    verdict_class = "pass" if document["passed"] else "fail"
    facts = [
        ("execution", document.get("execution_arn")),
        ("training job", document.get("training_job_name")),
        ("model artifact", document.get("model_artifact")),
        ("dataset version", document.get("dataset_version")),
        ("test rows", document.get("rows")),
        ("problem type", document.get("problem_type")),
        ("primary metric", document.get("primary_metric")),
    ]
    champion = document.get("champion")
    if champion:
        facts.append(("champion", " ".join(filter(None, [champion.get("label"), champion.get("serves")]))))
    difference = document.get("primary_metric_difference_interval")
    if difference:
        facts.append((f"{document['primary_metric']} difference, 95% CI", f"{difference[0]:.4f} to {difference[1]:.4f}"))
    fact_list = "".join(f"<dt>{_e(k)}</dt><dd><code>{_e(v)}</code></dd>" for k, v in facts if v is not None)
    notes = "".join(f"<p>{_e(n)}</p>" for n in document.get("notes", []))
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Model evaluation: {_e(document.get('training_job_name', ''))}</title><style>{STYLE}</style></head><body>"
        f"<h1>Model evaluation</h1><p class=\"verdict {verdict_class}\">{_e(document['summary'])}</p>{notes}"
        f"<dl>{fact_list}</dl>"
        f"<h2>Gates</h2>{_gate_table(document)}"
        f"<h2>Challenger versus champion</h2>{_comparison_table(document)}"
        f"{_per_class_section(document)}"
        f"<h2>Charts</h2>{_charts(document)}"
        "</body></html>\n"
    )
