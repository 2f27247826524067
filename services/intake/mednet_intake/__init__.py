"""mednet intake service: Case intake from firms: validates submissions and owns cases."""
