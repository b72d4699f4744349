"""Launching from the console (ops): a form, its rehearsal, then the launch of what was rehearsed.

| route | what |
|---|---|
| `GET /campaigns/new[?from=ID]` | the launch options (as `campaign launch`; those of a rehearsal) and Rehearse |
| `POST /rehearsals` | check them as a launch would, then rehearse them in the background |
| `GET /rehearsals/{id}` | its progress (the page reloads), then calendar, conflicts, lint, recipients, samples and the Launch button |
| `GET /rehearsals/{id}/recipients.csv` | every recipient with their dates |
| `GET /rehearsals/{id}/samples/{n}`, `POST .../test` | one sample email; test-send it |
| `POST /rehearsals/{id}/launch` | launch with the rehearsal's options, the CLI's checks |

A campaign is launched only from a rehearsal, with the rehearsal's own options; the launch is
planned again at that moment (the data may have changed), and a start in the past needs the
campaign's name typed. Who launched it goes into the campaign's log.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.engine.launch import LateJoiners, LaunchPlan, launch, parse_day, plan_launch
from campaign_engine.engine.rehearsal import SAMPLES_DIR, LaunchOptions, Rehearsal, rehearse
from campaign_engine.engine.rehearsal.archive import (
    Pending,
    load_rehearsal,
    new_rehearsal_dir,
    pending_rehearsal,
    save_failure,
    save_progress,
    save_rehearsal,
)
from campaign_engine.engine.rehearsal.model import recipients_csv
from campaign_engine.engine.rehearsal.proof import sample_parts, send_proofs
from campaign_engine.store.models import User
from campaign_engine.web.base import WebBase

__all__ = ["LaunchPages"]

log = logging.getLogger(__name__)

RECIPIENTS_SHOWN = 50  # on the rehearsal page; the CSV has them all
_STALLED = timedelta(hours=1)  # a rehearsal still without a result: the server stopped meanwhile
_FIELDS = ("sequence", "start", "name", "timezone", "send_days", "enroll_until", "late_joiners",
           "allow_overlap")  # fmt: skip


class LaunchPages(WebBase):
    def launch_routes(self) -> list[Route]:
        return [
            Route("/campaigns/new", self.new_campaign),
            Route("/rehearsals", self.start_rehearsal, methods=["POST"]),
            Route("/rehearsals/{rid}", self.rehearsal_page),
            Route("/rehearsals/{rid}/recipients.csv", self.recipients_file),
            Route("/rehearsals/{rid}/samples/{n:int}", self.sample_page),
            Route("/rehearsals/{rid}/samples/{n:int}/test", self.sample_test, methods=["POST"]),
            Route("/rehearsals/{rid}/launch", self.launch_rehearsed, methods=["POST"]),
        ]

    async def new_campaign(self, request: Request) -> Response:
        """The options: empty, or those of rehearsal `?from=ID` (to change and rehearse again)."""
        user = await self._require(request, ops=True)
        tomorrow = (self.clock() + timedelta(days=1)).date().isoformat()
        values = {"start": tomorrow, "timezone": self.settings.timezone, "late_joiners": "on"}
        rid = request.query_params.get("from", "")
        if rid:
            try:
                found, _ = await self.run(lambda: load_rehearsal(self.settings.rehearsals_dir, rid))
            except NotFound as exc:
                raise HTTPException(404, str(exc)) from None
            values = _values(found.options)
        return self._form_page(request, user, values)

    def _form_page(
        self, request: Request, user: User, values: dict[str, str], status: int = 200,
        error: str = "",
    ) -> Response:  # fmt: skip
        sequences = sorted(p.stem for p in self.settings.sequences_dir.glob("*.toml"))
        shown = {field: values.get(field, "") for field in _FIELDS}
        return self.page(request, "campaign_new.html.j2", status=status, user=user,
                         values=shown, sequences=sequences, error=error)  # fmt: skip

    async def start_rehearsal(self, request: Request) -> Response:
        """Check the options as a launch would (at once), then rehearse in the background."""
        user = await self._require(request, ops=True)
        form = await self._form(request)
        values = {key: str(value).strip() for key, value in form.items() if isinstance(value, str)}
        now = self.clock()
        try:
            options = _options(values)
            await self.run(lambda: self._plan(options, now, "nothing to rehearse"))
        except CampaignEngineError as exc:
            return self._form_page(request, user, values, 400, str(exc))
        directory = new_rehearsal_dir(self.settings.rehearsals_dir, now)
        worker = threading.Thread(
            target=self._rehearse, args=(options, now, directory), name="rehearsal", daemon=True
        )
        worker.start()
        log.info("web: %s rehearses %s (%s)", user.email, options.sequence, directory.name)
        return self._redirect(request, f"/rehearsals/{directory.name}")

    def _rehearse(self, options: LaunchOptions, now: datetime, directory: Path) -> None:
        try:
            result = rehearse(self.db, self.settings, options, now, directory,
                              on_tick=lambda moment: save_progress(directory, moment))  # fmt: skip
            save_rehearsal(result, directory)
        except CampaignEngineError as exc:  # the data changed since the check: said on the page
            save_failure(directory, str(exc))
        except Exception:
            log.exception("rehearsal %s failed", directory.name)
            save_failure(directory, "the rehearsal failed; the server's log says why")

    def _plan(self, options: LaunchOptions, now: datetime, nobody: str) -> LaunchPlan:
        """The launch of `options` at `now` planned on the real database (read only)."""
        plan = plan_launch(
            self.db, self.settings, options.sequence, options.start, now, options.name,
            options.timezone, options.allow_overlap, options.late,
        )  # fmt: skip
        if not plan.enrollments:
            raise CampaignEngineError(f"{nobody}: {plan.why_nobody()}")
        return plan

    async def rehearsal_page(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        rid = str(request.path_params["rid"])
        root = self.settings.rehearsals_dir

        def state() -> Rehearsal | Pending:
            try:
                return load_rehearsal(root, rid)[0]
            except NotFound:
                pending = pending_rehearsal(root, rid)
                return load_rehearsal(root, rid)[0] if pending is None else pending

        try:
            found = await self.run(state)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        if isinstance(found, Rehearsal):
            return self._rehearsal_page(request, user, found)
        elapsed = self.clock() - found.started
        stalled = not found.error and elapsed > _STALLED
        running = not found.error and not stalled
        return self.page(request, "rehearsal_pending.html.j2", user=user, pending=found,
                         stalled=stalled, running=running, seconds=int(elapsed.total_seconds()),
                         headers={"Refresh": "2"} if running else None)  # fmt: skip

    def _rehearsal_page(
        self, request: Request, user: User, rehearsal: Rehearsal, status: int = 200,
        error: str = "",
    ) -> Response:  # fmt: skip
        age = self.clock() - rehearsal.rehearsed_at
        return self.page(request, "rehearsal.html.j2", status=status, user=user, r=rehearsal,
                         shown=rehearsal.recipients[:RECIPIENTS_SHOWN], error=error,
                         age_minutes=int(age.total_seconds() // 60))  # fmt: skip

    async def recipients_file(self, request: Request) -> Response:
        await self._require(request, ops=True)
        rehearsal, _ = await self._load(request)
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in rehearsal.campaign)
        return Response(recipients_csv(rehearsal), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="rehearsal-{name}.csv"'})  # fmt: skip

    async def sample_page(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        rehearsal, directory = await self._load(request)
        n = self._sample_number(request, rehearsal)
        sample = rehearsal.samples[n]
        parts = None
        if sample.eml:
            raw = await self.run((directory / SAMPLES_DIR / sample.eml).read_bytes)
            parts = sample_parts(raw)
        return self.page(request, "rehearsal_sample.html.j2", user=user, r=rehearsal, n=n,
                         sample=sample, parts=parts)  # fmt: skip

    async def sample_test(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request)
        rehearsal, directory = await self._load(request)
        n = self._sample_number(request, rehearsal)
        to = str(form.get("to", "")).strip() or user.email
        try:
            outcomes = await send_proofs(
                self.settings, self.transport_factory(), directory / SAMPLES_DIR,
                [rehearsal.samples[n]], to,
            )  # fmt: skip
        except CampaignEngineError as exc:
            request.session["flash"] = str(exc)
            return self._redirect(request, f"/rehearsals/{rehearsal.id}/samples/{n}")
        refused = [o.detail for o in outcomes if not o.ok]
        log.info("web: %s test-sent sample %d of rehearsal %s to %s", user.email, n,
                 rehearsal.id, to)  # fmt: skip
        request.session["flash"] = (
            f"Test email not sent: {refused[0]}" if refused else f"Test email sent to {to}."
        )
        return self._redirect(request, f"/rehearsals/{rehearsal.id}/samples/{n}")

    async def launch_rehearsed(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request)
        rehearsal, _ = await self._load(request)
        options, now = rehearsal.options, self.clock()
        typed = str(form.get("confirm", "")).strip()

        def go() -> str:
            plan = self._plan(options, now, "nothing launched")
            if plan.starts_in_the_past and typed != plan.campaign.name:
                raise CampaignEngineError(
                    f"the start {options.start.isoformat()} is in the past: "
                    f"{plan.due_at_once} email(s) go out at the next tick; type the campaign's "
                    f"name ({plan.campaign.name}) to launch anyway"
                )
            result = launch(self.db, self.settings, options.sequence, options.start, now,
                            plan=plan, by=user.email)  # fmt: skip
            enrolled = sum(result.enrolled.values())
            waiting = sum(a.contacts for a in result.unowned)
            return f"Launched {result.name!r}: {enrolled} contact(s) enrolled." + (
                f" {waiting} of them, at {len(result.unowned)} account(s) no rep owns, get"
                " nothing until their account has a rep: see Unassigned."
                if waiting
                else ""
            )

        try:
            done = await self.run(go)
        except CampaignEngineError as exc:
            return self._rehearsal_page(request, user, rehearsal, 409, str(exc))
        log.info("web: %s launched %s from rehearsal %s", user.email, rehearsal.campaign,
                 rehearsal.id)  # fmt: skip
        request.session["flash"] = done
        return self._redirect(request, "/campaigns")

    async def _load(self, request: Request) -> tuple[Rehearsal, Path]:
        rid = str(request.path_params["rid"])
        try:
            return await self.run(lambda: load_rehearsal(self.settings.rehearsals_dir, rid))
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @staticmethod
    def _sample_number(request: Request, rehearsal: Rehearsal) -> int:
        n = request.path_params["n"]
        if not isinstance(n, int) or not 0 <= n < len(rehearsal.samples):
            raise HTTPException(404, "no such sample email")
        return n


def _values(options: LaunchOptions) -> dict[str, str]:
    """The form's fields for `options` (what `_options` reads back)."""
    late = options.late
    return {
        "sequence": options.sequence,
        "start": options.start.isoformat(),
        "name": options.name or "",
        "timezone": options.timezone or "",
        "send_days": late.send_days or "",
        "enroll_until": late.until.isoformat() if late.until else "",
        "late_joiners": "on" if late.enabled else "",
        "allow_overlap": "on" if options.allow_overlap else "",
    }


def _options(values: dict[str, str]) -> LaunchOptions:
    """The launch form's fields; InvalidInput naming a field that is not right."""
    until = values.get("enroll_until", "")
    late = LateJoiners(
        values.get("late_joiners") == "on",
        parse_day(until, "enroll until") if until else None,
        values.get("send_days") or None,
    )
    return LaunchOptions(
        values.get("sequence", ""),
        parse_day(values.get("start", ""), "start"),
        values.get("name") or None,
        values.get("timezone") or None,
        values.get("allow_overlap") == "on",
        late,
    )
