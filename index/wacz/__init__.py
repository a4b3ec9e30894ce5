"""WACZ packages: writing (export), reading and importing, signing, and evidence packages."""
