"""The `palimpsest` command: parses arguments, calls into crawler/, index/ and web/, prints.

Every command is a thin shell over a function that tests call too; `--json` prints the same
objects the HTTP API returns. Failures a user can cause arrive here as PalimpsestError and leave
as one line on stderr with the exit code of their kind (2 for bad usage or config, 1 otherwise).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from index import __version__
from index.collection import Collection
from index.errors import PalimpsestError


class _Group(click.Group):
    """Turns our errors into one clear line and an exit code, at the edge and nowhere else."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PalimpsestError as exc:
            raise _Failure(str(exc), exc.exit_code) from None


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


collection_option = click.option(
    "--collection",
    "collection_dir",
    envvar="PALIMPSEST_COLLECTION",
    default="warcs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The collection directory (also $PALIMPSEST_COLLECTION).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON, as the API does.")


def print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="palimpsest")
def cli() -> None:
    """Keep a network of related websites on record over time."""


def main(args: list[str] | None = None) -> int:
    """Run the command line with `args` (default sys.argv); return the exit code."""
    try:
        cli.main(args=args, prog_name="palimpsest", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return 0


def _collection(collection_dir: str) -> Collection:
    return Collection.locate(collection_dir)


if __name__ == "__main__":
    sys.exit(main())
