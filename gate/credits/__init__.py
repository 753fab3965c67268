"""What a member has and what a session costs: balance snapshots, pools, prices, and the
amount grammar, in ``decimal.Decimal``. No I/O; everything else builds on it."""
