"""Importable only because pydeps/extra.pth names pydeps/lib (site.addsitedir semantics)."""

MARK = "via .pth"
