"""The decision core: one answer to "can this member pay for one session, now?".

``core`` decides (identity, credits, price, rules, fail mode, log line, observers); ``memo``
remembers decisions per balance snapshot; ``holds`` is the last-credit guard."""
