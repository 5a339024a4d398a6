"""A report as one self-contained HTML page (placeholder: the real templates land next)."""

from __future__ import annotations

from html import escape

from domain.board import Report


def render(report: Report) -> str:
    """The report as a whole HTML document, every text escaped."""
    rows = "".join(
        f"<tr><th scope='row'>{escape(r.code)}</th><td>{escape(r.title)}</td>"
        f"<td>{escape(r.actual_shown)}</td><td>{escape(r.rating_text)}</td></tr>"
        for r in report.rows
    )
    return (
        f"<!doctype html><html lang='en-GB'><head><meta charset='utf-8'>"
        f"<title>{escape(report.title)}</title></head><body><main><h1>{escape(report.title)}</h1>"
        f"<table><thead><tr><th scope='col'>Code</th><th scope='col'>Measure</th>"
        f"<th scope='col'>Actual</th><th scope='col'>Rating</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></main></body></html>"
    )
