"""Meridian's control plane: one distribution, one import root.

The top-level folders of the repository (operators/, services/, webhooks/, edge-agent/, core/,
localplatform/) are mapped into this package by relative symlinks, so editable installs, mypy and
IDEs all see `meridian.operators.tenant` and friends at their real paths.
"""
