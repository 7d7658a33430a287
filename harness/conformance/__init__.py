"""Sans-I/O judgement of a client's streaming traffic, used by the mock and by `check`."""
