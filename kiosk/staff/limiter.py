"""The sign-in rate limit of the staff console and the county dashboard (Flask-Limiter).

Its own module so that the villager screens, which have no sign-in, never load Flask-Limiter (4 MB).
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Per address, in memory; a moving window like SlidingWindow's, so no burst fits across a window's edge.
limiter = Limiter(get_remote_address, storage_uri="memory://", strategy="moving-window", headers_enabled=True)
