"""Backends: read an annotated network and write text (PyTorch source, diagrams, tables)."""
