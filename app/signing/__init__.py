"""Digital signatures of reports: PAdES with pyHanko (see app/signing/engine.py)."""
