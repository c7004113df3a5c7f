"""One module per cause family; see analysis/registry.py."""
