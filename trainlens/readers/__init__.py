"""One module per on-disk format; each returns a :class:`ReadResult` and never raises on bad input."""

from trainlens.readers._frame import COLUMNS, ReadResult, empty_frame, make_frame

__all__ = ["COLUMNS", "ReadResult", "empty_frame", "make_frame"]
