"""The `stylejax` command: one module per command, shared options in `options`. No logic of its own.

Imports every layer below it; nothing imports it.
"""

from stylejax.cli.app import main as main
