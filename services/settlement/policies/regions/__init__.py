"""Region files: the codes the NHSA gateway speaks for a region (engine/region.py)."""
