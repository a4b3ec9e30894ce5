"""Commands for sharing and proving: export, and the verify of WACZ packages (issue 14).

Imported by palimpsest/cli.py at its end; each command registers itself on its `cli` group.
"""
