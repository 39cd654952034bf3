"""HMS benchmarks: `make bench` / `hms bench`. Figures, never timed assertions in tests."""
