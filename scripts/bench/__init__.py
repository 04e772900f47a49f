"""End-to-end performance benchmark (``make bench``); see ``scripts/bench/__main__.py``."""
