"""kith: privacy-preserving record linkage from Python.

The package mirrors the protocol's roles:

- :mod:`kith.holder` is for a data holder: check the agreed schema, profile an extract, encode a
  CSV file, a pandas DataFrame or an Arrow table with the secret (read from a file or the
  ``KITH_SECRET`` environment variable, held in Rust memory and wiped after use; never a Python
  object), and reveal returned results with the holder's own map.
- :mod:`kith.linkage` is for the linkage party: read encodings as Arrow, link them, group families,
  split the results per holder, evaluate, publish patterns. Nothing in it takes a secret.

Every function runs the same code as the ``kith`` command of the same name, with the same
options, files and messages; an error raises :class:`KithError` with the command's message.
"""

from kith._native import KithError

__all__ = ["KithError"]
