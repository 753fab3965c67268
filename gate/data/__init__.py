"""Getting a member's credits and a service's price, fresh enough and within budget: the
loader (fresh, stale, fallback), the in-process cache, batching and single-flight, and the
sources (Wix, a static file)."""
