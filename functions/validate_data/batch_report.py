"""The batch report as a self-contained HTML page: outcome first, then rows, model, prediction
distribution, drift and findings. Everything from data is escaped."""

from __future__ import annotations

import html
from typing import Any


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{_cell(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(value)}</td>" for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_batch_html(report: dict[str, Any]) -> str:
    model = report.get("model") or {}
    validation = report.get("validation") or {}
    drift = validation.get("drift") or {}
    distribution = report.get("prediction_distribution") or {}
    sections = [
        f"<h1>Batch {_cell(report.get('outcome'))}</h1>",
        f"<p>{_cell(report.get('reason'))}</p>",
        _table(
            [
                ("source", report.get("source_uri")),
                ("rows in the file", validation.get("rows")),
                ("rows held back", validation.get("quarantined_rows")),
                ("rows scored", report.get("rows_scored")),
                ("predictions", report.get("predictions_uri")),
                ("model version", model.get("model_version")),
                ("chosen by", model.get("chosen_by")),
                ("transform job", report.get("transform_job_name")),
                ("execution", report.get("execution_name")),
            ],
            ("", ""),
        ),
    ]
    if "counts" in distribution:
        fractions = distribution.get("fractions", {})
        rows = [(label, count, f"{fractions.get(label, 0):.1%}") for label, count in distribution["counts"].items()]
        sections += ["<h2>Predictions</h2>", _table(rows, ("class", "rows", "share"))]
    elif "quantiles" in distribution:
        rows = [(q, value) for q, value in distribution["quantiles"].items()]
        sections += ["<h2>Predictions</h2>", f"<p>mean {_cell(distribution.get('mean'))}</p>", _table(rows, ("quantile", "value"))]
    sections += [f"<h2>Drift</h2><p>{_cell(drift.get('note'))}</p>"]
    features = drift.get("features") or []
    if features:
        rows = [(f.get("column"), f.get("psi"), f.get("status")) for f in features if isinstance(f, dict)]
        sections.append(_table(rows, ("column", "PSI", "status")))
    findings = [*(validation.get("errors") or []), *(validation.get("warnings") or [])]
    if findings:
        rows = [(f.get("check"), f.get("column"), f.get("message")) for f in findings]
        sections += ["<h2>Findings</h2>", _table(rows, ("check", "column", "message"))]
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Batch report</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )
