"""Local TCP ports for the multi-process tests."""

import socket


def free_port() -> int:
    """A TCP port on localhost that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
