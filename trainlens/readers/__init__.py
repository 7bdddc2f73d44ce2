"""One module per on-disk format; each returns a :class:`ReadResult` (bad input: warnings)."""

from trainlens.readers._frame import COLUMNS, ReadResult, Table, empty_frame, make_frame

__all__ = ["COLUMNS", "ReadResult", "Table", "empty_frame", "make_frame"]
