"""Audio: PCM conversion and levels, the sources that pace frames, the seed conversion audit."""
