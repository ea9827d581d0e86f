"""The settlement HTTP application (see app.py)."""
