"""The words a snapshot's columns are written in: the field types and the foreign-key actions.

Both the snapshot data (``schema``) and the migration-file validation (``fileschema``) read
them; they live here so that neither of those modules imports the other.
"""

TYPES = (
    "SmallInt", "Integer", "BigInt", "Real", "Double", "Boolean", "Text", "Date", "Time",
    "Timestamp", "Timestamptz", "Uuid", "Json", "Bytes", "Decimal", "ForeignKey",
)  # fmt: skip
INTEGER_TYPES = frozenset({"SmallInt", "Integer", "BigInt"})
TEMPORAL_TYPES = frozenset({"Date", "Time", "Timestamp", "Timestamptz"})
FK_ACTIONS = ("cascade", "restrict", "set_null", "no_action")
