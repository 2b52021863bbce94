"""The Bolt app factory: every process (HTTP, Socket Mode, the local shell, tests) builds its app here."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

import handlers
from handlers.context import Services

__all__ = ["LISTENER_THREADS", "RATE_LIMIT_RETRIES", "create_app"]

LISTENER_THREADS = 32
"""Listeners run on this pool after their ack; Bolt acks only once a thread has picked the request up,
so the pool must be large enough that slow work (a bulk change) never delays another request's ack."""

RATE_LIMIT_RETRIES = 2
"""A Web API call Slack answers with 429 is retried after its `Retry-After`, this many times."""


def create_app(
    *,
    bot_token: str,
    signing_secret: str,
    services: Services,
    client: WebClient | None = None,
    base_url: str | None = None,
    listener_executor: Executor | None = None,
) -> App:
    """A Bolt app with every listener registered.

    Requests are always verified against `signing_secret`, and the token is checked with `auth.test`
    at start (against `base_url`, e.g. a local fake Slack). Every request is acknowledged from its
    own thread (`process_before_response=True`) and its work runs after the ack on the listener
    thread pool (`handlers.requests.acknowledge_first`), so an ack never waits for a free thread or
    for earlier work.
    Pass `client` to share a WebClient; it must carry `bot_token`. The local shell passes its own
    `listener_executor` to know when work is done. Forms' metadata is sealed with a key derived
    from `signing_secret`.
    """
    if not signing_secret:
        raise ValueError("A signing secret is required: licensebot never accepts unverified requests.")
    if not bot_token:
        raise ValueError("A bot token is required.")
    if client is None:
        client = WebClient(token=bot_token, base_url=base_url or WebClient.BASE_URL)
    elif base_url is not None:
        raise ValueError("Pass either a client or a base_url, not both.")
    elif client.token != bot_token:
        raise ValueError("The client must carry the bot token given.")
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    app = App(
        name="licensebot",
        logger=logging.getLogger("licensebot.slack"),
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=True,
        token_verification_enabled=True,
        process_before_response=True,
        listener_executor=listener_executor
        or ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack-listener"),
    )
    handlers.register(app, services, signing_secret=signing_secret)
    return app
