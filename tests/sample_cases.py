"""Submissions as a firm would send them, valid by default: the CLI's one builder (mednet_cli.samples)."""

from mednet_cli.samples import DELETE, accept_representation, hours, party, submission, variant

__all__ = ["DELETE", "accept_representation", "hours", "party", "submission", "variant"]
