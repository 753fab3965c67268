"""The ways of asking: the ASGI middleware, the decision API and forward-auth
(``service``), Wix webhooks, the status endpoint, and the responses they send. Each only
reads the question and writes the answer; ``gate.decision.core`` decides."""
