"""The running system on one machine: embedded servers and supervised service processes."""
