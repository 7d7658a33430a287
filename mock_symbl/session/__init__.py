"""Sans-I/O: a streaming session's state machine, its messages, insights, faults and ids."""
