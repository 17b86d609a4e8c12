"""Stands for a package installed into a dependencies directory (pip install --target deps)."""

SIGNATURE = "from deps"
