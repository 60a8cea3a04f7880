"""Carts (C16). Importing the package registers carts with customer merges (a cart follows its person) and
with erasure, wherever the tables are known (the app, migrations, the CLI's checks)."""

from omniretail.carts import service as _service  # noqa: F401
