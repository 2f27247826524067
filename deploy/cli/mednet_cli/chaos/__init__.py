"""Fault injection against the whole network: the chaos run and the hostile-input fuzz run."""
