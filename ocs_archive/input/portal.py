"""Proposal tags from the Observation Portal, cached for a bounded time.

A night's ingest sees thousands of frames from a handful of proposals, so the tags of
each proposal are fetched once and reused by every data file for
:data:`TAGS_CACHE_SECONDS`. A failed lookup (HTTP error status, unreachable portal,
a timeout, an answer that is not the expected JSON) gives ``None`` and one warning, and
is cached too, so that an unreachable portal does not slow every frame down.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import quote

from ocs_archive.settings import settings

logger = logging.getLogger(__name__)

TAGS_CACHE_SECONDS = 300.0
TAGS_CACHE_MAX_ENTRIES = 1024
# (connect, read) seconds: a slow portal must not hold up an ingest indefinitely.
REQUEST_TIMEOUT = (3.05, 10.0)

_cache: dict[tuple[str, str, str], tuple[float, list[str] | None]] = {}
_cache_lock = threading.Lock()


def proposal_url(base_url: str, proposal_id: str) -> str:
    """The portal's API address of a proposal; a path in ``base_url`` is kept."""
    # The id comes from a header: encoded, it can only ever name one proposal.
    return f"{base_url.rstrip('/')}/api/proposals/{quote(proposal_id, safe='')}"


def get_proposal_tags(proposal_id: object) -> list[str] | None:
    """The proposal's tags, or None when the portal is not configured or fails.

    The portal is configured when both ``OBSERVATION_PORTAL_BASE_URL`` and
    ``OBSERVATION_PORTAL_API_TOKEN`` are set (read now, not at import).
    """
    base_url = settings.OBSERVATION_PORTAL_BASE_URL
    token = settings.OBSERVATION_PORTAL_API_TOKEN
    if not base_url or not token or proposal_id in (None, ""):
        return None

    cache_key = (base_url, token, str(proposal_id))
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached is not None and now - cached[0] < TAGS_CACHE_SECONDS:
        return cached[1]

    tags = _fetch_tags(base_url, token, str(proposal_id))
    _remember(cache_key, now, tags)
    return tags


def clear_cache() -> None:
    """Forget every cached answer, e.g. after a proposal's tags were changed."""
    with _cache_lock:
        _cache.clear()


def _remember(cache_key: tuple[str, str, str], now: float, tags: list[str] | None):
    with _cache_lock:
        if len(_cache) >= TAGS_CACHE_MAX_ENTRIES:
            expired = [
                k for k, (t, _) in _cache.items() if now - t >= TAGS_CACHE_SECONDS
            ]
            for key in expired or list(_cache)[: len(_cache) // 2]:
                del _cache[key]
        _cache[cache_key] = (now, tags)


def _fetch_tags(base_url: str, token: str, proposal_id: str) -> list[str] | None:
    import requests  # imported here: most ingests never talk to the portal

    url = proposal_url(base_url, proposal_id)
    try:
        response = requests.get(
            url, headers={"Authorization": f"Token {token}"}, timeout=REQUEST_TIMEOUT
        )
    except requests.RequestException as exc:
        logger.warning("could not reach the Observation Portal at %s: %s", url, exc)
        return None
    if not response.ok:
        logger.warning(
            "the Observation Portal answered %s for proposal %r",
            response.status_code,
            proposal_id,
        )
        return None
    try:
        tags = response.json()["tags"]
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning(
            "the Observation Portal's answer for proposal %r has no tags list: %s",
            proposal_id,
            exc,
        )
        return None
    if not isinstance(tags, list):
        logger.warning(
            "the Observation Portal's tags for proposal %r are not a list: %r",
            proposal_id,
            tags,
        )
        return None
    return [str(tag) for tag in tags]
