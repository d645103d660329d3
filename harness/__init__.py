"""What the tests and the benchmark share: the program under Pulumi's mock engine, and its pod in a sandbox.

Neither `tests/` nor `bench/` is imported by the other; both import this.
"""
