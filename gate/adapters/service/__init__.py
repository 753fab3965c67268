"""``booking-gate serve``: the decision core as a service, for sites that cannot mount middleware.

A Wix-hosted site asks it from Velo backend code (the decision API); a proxy asks it for each
request (forward-auth). Both call the same core as the middleware.
"""

from gate.adapters.service.app import create_service

__all__ = ["create_service"]
