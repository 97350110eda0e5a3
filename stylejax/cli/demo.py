"""`stylejax demo`: a bundled photo stylized with a stained-glass style drawn in code, and a contact sheet."""

from __future__ import annotations

import argparse

from stylejax.cli.options import add_style_options, compiling, config_from_args, progress_bar


def add_parser(commands) -> None:
    """Adds the `demo` subcommand to the `stylejax` parser's subcommands."""
    p = commands.add_parser("demo", help="stylize a bundled photo with a stained-glass style drawn in code")
    p.add_argument("-o", "--output", default="demo-output", help="output directory (%(default)s)")
    add_style_options(p)
    p.set_defaults(size=256, steps=150, optimizer="adam")
    p.add_argument("--overwrite", action="store_true", help="replace existing demo outputs")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stylejax.io import demo_images, images, sheets
    from stylejax.solve.scales import total_steps
    from stylejax.solve.stylize import stylize

    out = images.check_output_dir(args.output)
    names = {"style": out / "stained_glass.png", "result": out / "astronaut_stained_glass.png",
             "sheet": out / "sheet.png"}
    out.mkdir(parents=True, exist_ok=True)
    for path in names.values():
        images.check_output(path, overwrite=args.overwrite)
    content = demo_images.astronaut()
    style = demo_images.stained_glass(args.size, args.size)
    config = config_from_args(args)
    with progress_bar(total_steps(config), "demo") as bar:
        result = stylize(content, style, config,
                         callback=lambda step, image, history: bar.update(step - bar.n))
    images.save_image(style, names["style"])
    images.save_image(result.image, names["result"])
    sheet = sheets.contact_sheet({"content": content, "style": style, "result": result.image}, height=args.size)
    images.save_image(sheet, names["sheet"])
    print(f"wrote {names['result']} and {names['sheet']} ({result.seconds:.1f} s{compiling(args)})")
    return 0
