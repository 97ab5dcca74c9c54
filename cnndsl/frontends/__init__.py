"""Frontends: other descriptions of a network turned into .cnn spec text.

A frontend writes spec text and nothing else; the normal pipeline (parse, lower, check,
torch backend) reads what it wrote. `torch_import` reads a PyTorch `nn.Module`.
"""
