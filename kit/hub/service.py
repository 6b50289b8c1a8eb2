"""The exchange as a JupyterHub service: ``python -m kit.hub.service PLAN.json``.

JupyterHub starts it as the course's owner (a system user that trainees are
not), so only it writes the inbox and reads the course secret. Every request is
authenticated by the hub (an API token, or the hub's OAuth cookie in a
browser); the hub account decides who a hand-in is from and this process's
clock decides when. Routes (below the service prefix)::

    POST api/handins/<cohort>/<session>   trainee: hand in {files: {name: base64}, warnings}
    GET  api/handins/<cohort>             instructor: ids of every hand-in
    GET  api/handins/<cohort>/<id>        instructor: one hand-in's files
    POST api/live/<cohort>/<session>      trainee: {question, value}, the latest answer
    GET  api/live/<cohort>/<session>      instructor: {qid: {trainee: {value, at}}} (at: this clock)
    PUT  api/live/<cohort>/<session>/state   instructor: the live class's state (#12); {at}
    GET  api/live/<cohort>/<session>/state   anyone in the cohort: that state
    GET  api/whoami                       who the hub says you are

Trainee text never becomes markup here: every answer is JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import httpserver, ioloop, web

from kit import untrusted
from kit.exchange import trust
from kit.exchange.clients import (
    MAX_HANDIN_BYTES,
    ExchangeError,
    FolderExchange,
    Handin,
    pack_files,
    unpack_files,
)

log = logging.getLogger("casekit.exchange")
#: An id in a route: the pattern of the one id check (kit.untrusted), so routes and check agree.
ID = untrusted.ID_PATTERN


class _Base(HubOAuthenticated, web.RequestHandler):
    def initialize(self, plan: dict, exchange: FolderExchange) -> None:
        self.plan = plan
        self.exchange = exchange

    def check_xsrf_cookie(self) -> None:
        # API calls carry the hub token in a header; a cookie-only browser POST is
        # not accepted here (the hub's OAuth cookie serves GET pages only).
        if "Authorization" not in self.request.headers and self.request.method != "GET":
            raise web.HTTPError(403, "send the hub API token in the Authorization header")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def account(self) -> tuple[str, dict]:
        """(hub user name, account record); 403 for a hub user this cohort does not know."""
        user = self.current_user
        name = user.get("name") if isinstance(user, dict) else None
        if not isinstance(name, str) or name not in self.plan["accounts"]:
            raise web.HTTPError(403, f"{name!r} has no account in this cohort")
        return name, self.plan["accounts"][name]

    def instructor(self) -> str:
        name, record = self.account()
        if record["role"] != "instructor":
            raise web.HTTPError(403, "only instructors may read hand-ins and live answers")
        return name

    def cohort(self, cohort: str) -> str:
        if cohort != self.plan["cohort"]:
            raise web.HTTPError(404, f"no cohort {cohort!r} on this hub")
        return cohort

    def session_of(self, session: str) -> str:
        if session not in self.plan["sessions"]:
            raise web.HTTPError(404, f"no session {session!r} in this cohort's schedule")
        return session

    def body(self) -> dict:
        try:
            doc = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the request body is not JSON") from None
        if not isinstance(doc, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return doc


class HandinsHandler(_Base):
    @web.authenticated
    async def post(self, cohort: str, session: str) -> None:
        name, record = self.account()
        if record["role"] != "trainee":
            raise web.HTTPError(403, "only trainees hand in")
        doc = self.body()
        try:
            files = unpack_files(doc.get("files"))
            handin = Handin(
                self.cohort(cohort),
                self.session_of(session),
                # the claim is kept in the receipt for the instructor; the account decides
                str(doc.get("trainee") or record["id"]),
                files,
                [str(w) for w in doc.get("warnings") or []][:50],
            )
            # file writes off the event loop: 60 trainees hand in at once
            accepted = await asyncio.to_thread(
                self.exchange.submit, handin, trusted_trainee=record["id"]
            )
        except ExchangeError as exc:
            raise web.HTTPError(400, str(exc)) from None
        log.info("hand-in %s/%s from %s (%s)", cohort, session, name, accepted.receipt["sha256"])
        self.write({"receipt": accepted.receipt, "location": accepted.location})

    @web.authenticated
    async def get(self, cohort: str, session: str | None = None) -> None:
        self.instructor()
        self.write(json.dumps(self.exchange.handins(self.cohort(cohort))))


class HandinHandler(_Base):
    @web.authenticated
    async def get(self, cohort: str, handin_id: str) -> None:
        self.instructor()
        try:
            files = self.exchange.fetch(self.cohort(cohort), handin_id)
        except (ExchangeError, OSError) as exc:
            raise web.HTTPError(404, str(exc)) from None
        self.write({"files": pack_files(files)})


class LiveHandler(_Base):
    @web.authenticated
    async def post(self, cohort: str, session: str) -> None:
        _, record = self.account()
        doc = self.body()
        value = doc.get("value")
        if len(json.dumps(value, ensure_ascii=False)) > 20_000:
            raise web.HTTPError(413, "a live answer is limited to 20,000 characters")
        try:
            await asyncio.to_thread(
                self.exchange.post_live,
                self.cohort(cohort),
                self.session_of(session),
                str(doc.get("question") or ""),
                value,
                trainee=record["id"],
            )
        except ExchangeError as exc:
            raise web.HTTPError(400, str(exc)) from None
        self.write({"ok": True})

    @web.authenticated
    async def get(self, cohort: str, session: str) -> None:
        self.instructor()
        self.write(self.exchange.live(self.cohort(cohort), self.session_of(session)))


# -- live class (#12): the instructor publishes, every workbook of the cohort reads
class LiveStateHandler(_Base):
    @web.authenticated
    async def put(self, cohort: str, session: str) -> None:
        self.instructor()
        if len(self.request.body or b"") > 1_000_000:
            raise web.HTTPError(413, "a live class state is limited to 1 MB")
        doc = self.body()
        at = await asyncio.to_thread(
            self.exchange.set_live_state, self.cohort(cohort), self.session_of(session), doc
        )
        self.write({"ok": True, "at": at})

    @web.authenticated
    async def get(self, cohort: str, session: str) -> None:
        self.account()
        self.write(self.exchange.live_state(self.cohort(cohort), self.session_of(session)))


# -- end live class


class WhoamiHandler(_Base):
    @web.authenticated
    async def get(self) -> None:
        name, record = self.account()
        self.write({"name": name, **record})


def make_app(plan: dict) -> web.Application:
    """The tornado application of the exchange service for one cohort."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/casekit-exchange/")
    secret = trust.course_secret(Path(plan["course"]), create=False)
    if secret is None:
        raise SystemExit(f"casekit exchange: cannot read the course secret under {plan['course']}")
    exchange = FolderExchange(Path(plan["exchange"]), secret=secret, via=trust.HUB_VIA)
    args = {"plan": plan, "exchange": exchange}
    seg = f"({ID})"
    routes = [
        (url_path_join(prefix, rf"api/handins/{seg}/{seg}/?"), HandinsHandler, args),
        (url_path_join(prefix, rf"api/handins/{seg}/?"), HandinsHandler, args),
        (url_path_join(prefix, rf"api/handins/{seg}/({ID}/{ID}/{ID})"), HandinHandler, args),
        (url_path_join(prefix, rf"api/live/{seg}/{seg}/state/?"), LiveStateHandler, args),
        (url_path_join(prefix, rf"api/live/{seg}/{seg}/?"), LiveHandler, args),
        (url_path_join(prefix, r"api/whoami/?"), WhoamiHandler, args),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
    ]
    return web.Application(
        routes,
        cookie_secret=os.urandom(32),
        hub_auth=HubOAuth.instance(),
        log_function=lambda h: None,
    )


def load_plan(path: Path) -> dict:
    """The service's view of the deployment plan (course, cohort, sessions, accounts)."""
    plan = json.loads(Path(path).read_text(encoding="utf-8"))
    accounts = json.loads(Path(plan["accounts_file"]).read_text(encoding="utf-8"))
    plan["accounts"] = accounts["accounts"]
    return plan


def main(argv: list[str] | None = None) -> None:
    """Run the service on ``$JUPYTERHUB_SERVICE_URL`` (set by the hub)."""

    logging.basicConfig(level=logging.INFO, format="[casekit-exchange %(asctime)s] %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    plan = load_plan(Path(argv[0]))
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    server = httpserver.HTTPServer(
        make_app(plan), max_body_size=int(MAX_HANDIN_BYTES * 1.4) + 1024 * 1024
    )
    server.listen(url.port or 80, url.hostname or "127.0.0.1")
    log.info("serving cohort %s on %s as uid %d", plan["cohort"], url.geturl(), os.getuid())
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
