"""Developer commands on the local stack: stack, up, down, status, demo, bench, chaos, fuzz."""
