"""Library errors in the command line's words: a parameter a message names in backticks, as its flag.

The library's messages name what a library user passed (`size`, `batch_size`); on the command line the
same setting is a flag (`--size`, `--batch-size`), and the one-line error should say so.
"""

from __future__ import annotations

import argparse
import re

# Parameters whose flag is not `--` and the name with dashes: {name: (the command's dest, the flag)}.
RENAMED = {"output": ("output", "-o"), "address": ("ray", "--ray")}
_NAMED = re.compile(r"`([a-z][a-z0-9_]*)`")


def as_flags(message: str, args: argparse.Namespace) -> str:
    """`message` with each backticked parameter the command has a flag for written as that flag.

    A command's own spellings (`args.flag_names`, {name: flag}) come first; other backticked words (a
    function's name, `ray start --head`) stay as they are.

    Example:
      >>> as_flags("use a smaller `size`", argparse.Namespace(size=512))
      'use a smaller --size'
    """
    own = getattr(args, "flag_names", {})
    given = vars(args)

    def flag(match: re.Match) -> str:
        name = match.group(1)
        if name in own:
            return own[name]
        if name in RENAMED and RENAMED[name][0] in given:
            return RENAMED[name][1]
        return "--" + name.replace("_", "-") if name in given else match.group(0)

    return _NAMED.sub(flag, message)
