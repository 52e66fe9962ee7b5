"""Each mapping written by hand in plain Python: the baseline the declarative form is
measured against. One module per mapping (named like its folder, `-` as `_`), with
`FIXTURE` (the input, from the repository root) and `by_hand(msg) -> bytes` producing
the same output as the mapping (compared by what the format means, not byte for byte).
"""
