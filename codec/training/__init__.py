"""Training code for ZVC69's networks (PyTorch, a dev extra: `pip install -e .[train]`).

Nothing under `codec/` outside this package imports torch.
"""
