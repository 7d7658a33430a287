"""Record, replay, compare and benchmark sessions of the Symbl.ai streaming API."""

__version__ = "0.1.0"
TOOL = f"symbl-harness {__version__}"
