"""The session folder, format v1, on disk: log writer and reader, WAV, redaction, transcripts."""
