"""A Symbl-compatible streaming and conversation server that runs offline."""
