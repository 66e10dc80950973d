"""The validation report: JSON for machines, one self-contained HTML page for people.

The HTML page has no scripts and no external resources; every feature compared with a baseline
gets an inline SVG histogram of the reference (baseline) distribution next to the upload's,
drifted ones first, whether the upload was accepted or rejected.
"""

from __future__ import annotations

from html import escape
from typing import Any

REPORT_FORMAT_VERSION = 1
CHART_WIDTH_PX = 420
CHART_HEIGHT_PX = 230
CHART_MARGIN_PX = 40
LABEL_BAND_PX = 70
REFERENCE_COLOUR = "#4c78a8"
CURRENT_COLOUR = "#f58518"


def render_html(report: dict[str, Any]) -> str:
    outcome = report.get("outcome", "")
    colour = {"accepted": "#2e7d32", "data_rejected": "#c62828", "duplicate": "#6d6d6d"}.get(outcome, "#333")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Data validation: {escape(outcome)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;"
        "vertical-align:top;font-size:14px}th{background:#f3f3f3}.badge{color:#fff;padding:2px 10px;border-radius:4px}"
        "code{background:#f3f3f3;padding:1px 4px}.distributions{display:flex;flex-wrap:wrap;gap:8px}"
        "figure{margin:0;border:1px solid #ddd;border-radius:4px;padding:4px}figure.drift{border-color:#c62828}"
        "figcaption{font-size:13px;font-weight:600;padding:2px 4px}</style></head><body>",
        f'<h1>Data validation <span class="badge" style="background:{colour}">{escape(outcome)}</span></h1>',
        "<table>",
        _row("Source", report.get("source_uri")),
        _row("Dataset version (sha256)", report.get("dataset_version")),
        _row("Rows", report.get("rows")),
        _row("Format", report.get("file_format")),
        _row("Execution", report.get("execution_arn")),
        _row("Created", report.get("created")),
    ]
    if report.get("quarantine_uri"):
        parts.append(_row("Quarantine copy", report["quarantine_uri"]))
    if report.get("quarantined_rows"):
        parts.append(_row("Quarantined rows", f"{report['quarantined_rows']} ({report.get('quarantined_rows_uri')})"))
    if report.get("splits"):
        parts.append(_row("Split rows", ", ".join(f"{name}: {rows}" for name, rows in report["splits"].items())))
    parts.append("</table>")
    if report.get("reason"):
        parts.append(f"<p><strong>{escape(report['reason'])}</strong></p>")
    parts.append(_findings_table("Errors", report.get("errors", [])))
    parts.append(_findings_table("Warnings", report.get("warnings", [])))
    parts.append(_drift_section(report.get("drift") or {}))
    parts.append(_columns_table(report.get("columns", {})))
    if report.get("class_counts"):
        parts.append("<h2>Classes</h2><table><tr><th>Class</th><th>Rows</th></tr>")
        parts += [f"<tr><td>{escape(str(label))}</td><td>{count}</td></tr>" for label, count in report["class_counts"].items()]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(part for part in parts if part)


def _row(label: str, value: Any) -> str:
    return f"<tr><th>{escape(label)}</th><td>{escape('' if value is None else str(value))}</td></tr>"


def _findings_table(title: str, findings: list[dict[str, Any]]) -> str:
    if not findings:
        return f"<h2>{escape(title)}</h2><p>None.</p>"
    rows = [f"<h2>{escape(title)} ({len(findings)})</h2>", "<table><tr><th>Check</th><th>Column</th><th>Problem</th><th>Examples</th></tr>"]
    for finding in findings:
        examples = "<br>".join(escape(example) for example in finding.get("examples", []))
        rows.append(
            f"<tr><td><code>{escape(finding.get('check', ''))}</code></td><td>{escape(finding.get('column') or '')}</td>"
            f"<td>{escape(finding.get('message', ''))}</td><td>{examples}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _drift_section(drift: dict[str, Any]) -> str:
    parts = ["<h2>Drift</h2>", f"<p>{escape(drift.get('note', ''))}</p>"]
    features = drift.get("features", [])
    if features:
        parts.append("<table><tr><th>Column</th><th>PSI</th><th>Status</th><th>Warn at</th><th>Fail at</th></tr>")
        for feature in sorted(features, key=lambda item: -item["psi"]):
            parts.append(
                f"<tr><td>{escape(feature['column'])}</td><td>{feature['psi']:.4f}</td><td>{escape(feature['status'])}</td>"
                f"<td>{feature['warn_psi']}</td><td>{feature['fail_psi']}</td></tr>"
            )
        parts.append("</table>")
        parts.append("<h3>Distributions: reference (baseline) and this upload</h3>")
        parts.append('<div class="distributions">')
        for feature in sorted(features, key=lambda item: (item["status"] == "ok", -item["psi"])):
            status_class = "ok" if feature["status"] == "ok" else "drift"
            parts.append(
                f'<figure class="{status_class}"><figcaption>{escape(feature["column"])} &middot; PSI '
                f'{feature["psi"]:.3f} &middot; {escape(feature["status"])}</figcaption>'
                f'{histogram_svg(feature["bin_labels"], feature["reference"], feature["current"])}</figure>'
            )
        parts.append("</div>")
    return "\n".join(parts)


def histogram_svg(labels: list[str], reference: list[float], current: list[float]) -> str:
    """Grouped bars: reference and current fraction of rows per bin."""
    plot_width = CHART_WIDTH_PX - 2 * CHART_MARGIN_PX
    plot_height = CHART_HEIGHT_PX - CHART_MARGIN_PX - LABEL_BAND_PX
    top = max([*reference, *current, 1e-9])
    slot = plot_width / max(len(labels), 1)
    bar = slot * 0.4
    baseline_y = CHART_MARGIN_PX + plot_height
    shapes = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH_PX}" height="{CHART_HEIGHT_PX}" '
        f'role="img" aria-label="reference versus current distribution">',
        f'<line x1="{CHART_MARGIN_PX}" y1="{baseline_y}" x2="{CHART_MARGIN_PX + plot_width}" y2="{baseline_y}" stroke="#999"/>',
        f'<text x="{CHART_MARGIN_PX}" y="16" font-size="12" fill="{REFERENCE_COLOUR}">&#9632; reference</text>',
        f'<text x="{CHART_MARGIN_PX + 90}" y="16" font-size="12" fill="{CURRENT_COLOUR}">&#9632; this upload</text>',
        f'<text x="4" y="{CHART_MARGIN_PX + 4}" font-size="10">{top:.0%}</text>',
    ]
    for index, label in enumerate(labels):
        x = CHART_MARGIN_PX + index * slot + slot * 0.1
        for offset, values, colour in ((0.0, reference, REFERENCE_COLOUR), (bar, current, CURRENT_COLOUR)):
            height = plot_height * (values[index] / top)
            shapes.append(
                f'<rect x="{x + offset:.1f}" y="{baseline_y - height:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{escape(label)}: {values[index]:.1%}</title></rect>'
            )
        label_x = x + bar
        shapes.append(
            f'<text x="{label_x:.1f}" y="{baseline_y + 12}" font-size="10" text-anchor="end" '
            f'transform="rotate(-40 {label_x:.1f} {baseline_y + 12})">{escape(label[:18])}</text>'
        )
    shapes.append("</svg>")
    return "".join(shapes)


def _columns_table(columns: dict[str, dict[str, Any]]) -> str:
    if not columns:
        return ""
    rows = ["<h2>Columns</h2>", "<table><tr><th>Column</th><th>Type</th><th>Empty</th><th>Invalid</th><th>Observed range</th></tr>"]
    for name, summary in columns.items():
        observed = (
            f"{summary['observed_min']:.6g} .. {summary['observed_max']:.6g}" if "observed_min" in summary else ""
        )
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{escape(summary.get('type', ''))}</td>"
            f"<td>{summary.get('null_fraction', 0):.1%}</td><td>{summary.get('invalid', 0)}</td><td>{observed}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)
