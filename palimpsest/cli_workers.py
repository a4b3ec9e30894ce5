"""Commands for crawls shared through Redis: worker (issue 16).

Imported by palimpsest/cli.py at its end; each command registers itself on its `cli` group.
"""
