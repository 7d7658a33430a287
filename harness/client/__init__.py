"""The I/O edge for one session: streaming, recording, tokens and the Conversation API."""
