"""`cli.flags.as_flags`: a library error's parameters, as the flags of the command that ran."""

import argparse

from stylejax.cli.app import build_parser
from stylejax.cli.flags import as_flags


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_a_parameter_the_command_has_becomes_its_flag_and_other_words_stay():
    args = _args("batch", "in", "--style", "s.png", "-o", "out")
    message = "`batch_size` 64 needs 2 GiB: use `batch_size` 8 or a smaller `size`; `stylize` and `frames` stay"
    assert as_flags(message, args) == ("--batch-size 64 needs 2 GiB: use --batch-size 8 or a smaller --size; "
                                       "`stylize` and `frames` stay")


def test_renamed_flags_apply_only_where_the_command_has_them():
    assert as_flags("choose another `output`; `address` x", _args("batch", "in", "--style", "s", "-o", "o")) \
        == "choose another -o; --ray x"
    assert as_flags("`address` x", _args("stylize", "c.png", "s.png", "-o", "o.png")) == "`address` x"


def test_a_command_s_own_spellings_come_first():
    args = _args("video", "in.mp4", "-o", "out.mp4")
    assert as_flags("raise `steps`, or `frame_steps`", args) == "raise --first-steps, or --steps"
