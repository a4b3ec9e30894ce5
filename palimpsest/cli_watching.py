"""Commands for watching on its own: schedule and monitor (issue 15).

Imported by palimpsest/cli.py at its end; each command registers itself on its `cli` group.
"""
