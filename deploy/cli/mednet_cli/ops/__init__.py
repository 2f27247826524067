"""Operator commands and their logic: they work on any Kafka cluster given its address and admin credentials,
and never import the local stack (the dev layer fills the options in for it)."""
