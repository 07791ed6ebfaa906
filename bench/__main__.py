"""Run every benchmark."""

print("no benchmarks yet")
