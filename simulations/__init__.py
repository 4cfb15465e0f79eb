"""Simulations: scenarios, the exercise runner, load generators and benchmarks."""
