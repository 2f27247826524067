"""mednet's one contracts package: integration events, topics, envelope, and thin platform helpers."""
