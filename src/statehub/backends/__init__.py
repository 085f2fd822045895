"""Storage backends: each commits a :class:`~statehub.txn.Txn` atomically, and nothing more."""
