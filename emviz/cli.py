"""The command line: ``python -m emviz render config.yaml`` and friends.

Exit codes: 0 done; 2 a usage error or bad input (one line ``emviz: error: ...`` on stderr, no
traceback, no file written); 1 a failure of emviz while running (a short message; ``--traceback`` or
``EMVIZ_DEBUG=1`` shows the traceback); 130 interrupted; 141 the reader of stdout went away
(``emviz schema | head``), silently, as for any command in a shell pipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import traceback
import warnings

from emviz.errors import InputError

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


def _add_render(sub, common) -> None:
    p = sub.add_parser("render", parents=[common], help="fit the config's model and write its outputs",
                       description="Fit the model of CONFIG to its data and write every output.")
    p.add_argument("config", metavar="CONFIG", help="YAML config file")
    p.add_argument("--out", default=".", metavar="DIR", help="directory for outputs and the trace (default: .)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.max_iter=200 (repeatable; VALUE is YAML)")
    p.add_argument("--device", metavar="{auto,cpu,cuda,cuda:N}", help="replace model.device")
    p.add_argument("--only", action="append", metavar="OUTPUT",
                   help="write only this output (its path or file name, repeatable); the fit runs as always")
    p.add_argument("--dry-run", action="store_true", help="check everything and print the plan; fit nothing")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages")
    p.set_defaults(func=_cmd_render)


def _add_render_trace(sub, common) -> None:
    p = sub.add_parser("render-trace", parents=[common], help="render a saved trace without refitting",
                       description="Render a trace saved with record.save (.npz) to an animation or still.")
    p.add_argument("trace", metavar="TRACE", help="a trace file (.npz)")
    p.add_argument("--panels", action="append", required=True, metavar="PANEL",
                   help="a panel name or a YAML mapping such as '{components: {bins: 40}}' (repeatable: "
                        "several panels side by side)")
    p.add_argument("--out", required=True, metavar="PATH", help="output: .gif .mp4 .html .tex (beamer) .png .pdf .svg or a folder")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second (default: 10)")
    p.add_argument("--schedule", metavar="YAML", help="which iterations: all, [0, 5, 10], '{dense: 100, every: 10}'")
    p.add_argument("--iterations", metavar="YAML", help="stills: iterations to draw, e.g. '[0, 10, 100]'")
    p.add_argument("--hold-last", type=float, default=2.0, metavar="SECONDS", help="hold the last frame (default: 2)")
    p.add_argument("--theme", choices=("light", "dark"), help="default: the style the trace was fitted with")
    p.add_argument("--dpi", type=float, help="dots per inch (default: the trace's config's style.dpi, else 100)")
    p.add_argument("--size", type=float, nargs=2, metavar=("WIDTH", "HEIGHT"), help="figure size in inches")
    p.add_argument("--title", help="heading above the iteration line")
    p.add_argument("--half-steps", action="store_true",
                   help="each iteration as two frames: its E-step (points recoloured), its M-step (components moved)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages")
    p.set_defaults(func=_cmd_render_trace)


def build_parser() -> argparse.ArgumentParser:
    """The ``emviz`` argument parser (sub-commands render, render-trace, validate, schema, panels)."""
    from emviz import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of a failure")
    parser = argparse.ArgumentParser(prog="emviz", description="Animate how EM fits a Gaussian mixture.")
    parser.add_argument("--version", action="version", version=f"emviz {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback of a failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_render(sub, common)
    _add_render_trace(sub, common)
    p = sub.add_parser("validate", parents=[common], help="check a config (and its data) without fitting")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--out", default=".", metavar="DIR", help="where outputs would go (checked, not created)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--device", metavar="{auto,cpu,cuda,cuda:N}")
    p.set_defaults(func=_cmd_validate)
    p = sub.add_parser("schema", parents=[common], help="print the JSON schema of a config")
    p.set_defaults(func=_cmd_schema)
    p = sub.add_parser("panels", parents=[common], help="list the panels, their dimensions and options")
    p.set_defaults(func=_cmd_panels)
    return parser


# ============================================================================================ commands
def _cmd_render(args) -> int:
    from emviz.pipeline import run

    written = run(args.config, out=args.out, overrides=args.overrides, device=args.device,
                  dry_run=args.dry_run, progress=not args.quiet, only=args.only)
    if not args.quiet and not args.dry_run:
        for path in written:
            print(f"wrote {path}")
    return EXIT_OK


def _cmd_validate(args) -> int:
    from emviz.pipeline import prepare

    plan = prepare(args.config, out=args.out, overrides=args.overrides, device=args.device)
    d = plan.dataset
    n_out = len(plan.config.outputs)
    ks = list(dict.fromkeys(m.n_components for m in plan.config.run_models().values()))
    k = f"K={ks[0]}" if len(ks) == 1 else f"K in {{{', '.join(map(str, ks))}}}"  # a sweep of K
    print(f"{args.config}: OK (N={d.n_samples}, D={d.n_features}, {k}, "
          f"{n_out} output{'s' if n_out != 1 else ''})")
    return EXIT_OK


def _cmd_schema(args) -> int:
    from emviz.config import schema

    print(json.dumps(schema(), indent=2))
    return EXIT_OK


def _cmd_panels(args) -> int:
    from emviz.config import register_panels
    from emviz.render.panel import PANELS, describe_dims, panel_options

    register_panels()
    for name in PANELS.names():
        cls = PANELS.get(name)
        dims = "any D" if cls.dims is None else "D=" + describe_dims(cls.dims)
        print(f"{name}  ({dims})  {cls.summary}".rstrip())
        for option, default in panel_options(cls).items():
            shown = "(required)" if default is dataclasses.MISSING else f"= {default!r}"
            print(f"    {option} {shown}")
    return EXIT_OK


def _yaml_arg(text: str, flag: str):
    from emviz.config import read_yaml

    try:
        return read_yaml(text, name=flag)[0]
    except InputError as exc:
        raise InputError(f"{flag} {text}: not valid YAML ({str(exc).split(': ', 1)[-1]})") from None


def _cmd_render_trace(args) -> int:
    from emviz.pipeline import render_trace

    panels = [(f"--panels {text}", _yaml_arg(text, "--panels")) for text in args.panels]
    schedule = _yaml_arg(args.schedule, "--schedule") if args.schedule is not None else None
    iterations = _yaml_arg(args.iterations, "--iterations") if args.iterations is not None else None
    try:
        written = render_trace(args.trace, panels, args.out, fps=args.fps, schedule=schedule, iterations=iterations,
                               hold_last=args.hold_last, title=args.title,
                               style={k: v for k, v in (("theme", args.theme), ("dpi", args.dpi),
                                                        ("size", list(args.size) if args.size else None)) if v is not None},
                               progress=not args.quiet, half_steps=args.half_steps)
    except InputError as exc:
        raise InputError(_as_flag(str(exc), args)) from None
    if not args.quiet:
        print(f"wrote {written}")
    return EXIT_OK


#: render_trace's argument names as its errors start, and the flag (and ``args`` attribute) that gave each.
_FLAGS = (("style.size", "--size", "size"), ("style.dpi", "--dpi", "dpi"), ("fps", "--fps", "fps"),
          ("hold_last", "--hold-last", "hold_last"), ("title", "--title", "title"),
          ("schedule", "--schedule", "schedule"), ("iterations", "--iterations", "iterations"))


def _as_flag(message: str, args) -> str:
    """An error of :func:`render_trace` named by the flag the user typed: ``style.size: must be > 0``
    becomes ``--size 0 3: style.size: must be > 0`` (a style key the trace's saved config gave is left alone)."""
    for key, flag, attr in _FLAGS:
        given = getattr(args, attr, None)
        if given is not None and re.match(rf"{re.escape(key)}(?=[:.\[])", message):
            shown = " ".join(f"{v:g}" for v in given) if isinstance(given, list) else \
                f"{given:g}" if isinstance(given, float) else str(given)
            return f"{flag} {shown}: {message}" if len(shown) <= 60 else f"{flag}: {message}"
    return message


# ============================================================================================ main
def _one_line(exc: BaseException) -> str:
    text = re.sub(r"\s*\n\s*", " ", str(exc).strip())
    return text or type(exc).__name__


def _debug(args) -> bool:
    return bool(getattr(args, "traceback", False)) or os.environ.get("EMVIZ_DEBUG", "") not in ("", "0")


def main(argv=None) -> int:
    """Run the command line; return the exit code (0 done, 1 failure, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if _debug(args):
        code, line = _run(args)
        _say(line)
        return code
    # Warnings (emviz's own, numpy's, torch's) would print as two-line "file:line: Warning" blocks:
    # show each once as one line, before the final message, and none beside a usage error, whose
    # contract is exactly one line.
    with warnings.catch_warnings(record=True) as caught:
        code, line = _run(args)
    if code != EXIT_USAGE:
        for message in dict.fromkeys(_one_line(w.message) for w in caught):
            _say(f"emviz: warning: {message}")
    _say(line)
    return code


def _say(line: str | None) -> None:
    """One line on stderr in one write: the ranks of a torchrun job share the terminal, and print()'s
    separate write of the newline lets another rank's line land in the middle."""
    if line:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _run(args) -> tuple[int, str | None]:
    """Run the chosen command: its exit code, and the one line to print on stderr (None when done)."""
    import yaml
    from pydantic import ValidationError

    try:
        return args.func(args), None
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, "emviz: interrupted"
    except BrokenPipeError as exc:
        if not _stdout_gone():  # another pipe (ffmpeg's, say): a failure like any other
            return _failure(args, exc)
        # `emviz schema | head`: the reader has what it wanted. Point stdout at /dev/null so that the
        # interpreter's final flush does not raise again ("Exception ignored ... BrokenPipeError").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE, None
    except (InputError, yaml.YAMLError, ValidationError) as exc:
        if _debug(args):
            traceback.print_exc()
        return EXIT_USAGE, f"emviz: error: {_one_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, the traceback on request
        return _failure(args, exc)


def _failure(args, exc: BaseException) -> tuple[int, str]:
    if _debug(args):
        traceback.print_exception(exc)
        hint = ""
    else:
        hint = " (run with --traceback or EMVIZ_DEBUG=1 to see the traceback)"
    return EXIT_FAILURE, f"emviz: error: {type(exc).__name__}: {_one_line(exc)}{hint}"


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll reports an error on its write end)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or stdout without a descriptor
        return False
