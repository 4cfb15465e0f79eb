"""The `interforces` command line: charter checks, dry runs, schemas and benchmarks."""
