"""Machine-readable catalogues of the standards Kanal speaks, loaded from `standards/`.

The facts live in TOML beside the engine (`standards/medcom/`), each citing the public file it
came from, so that a reviewer can check them without reading code; the modules here only load
them once, check that they agree with each other, and answer lookups.
"""
