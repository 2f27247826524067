"""Notify's handler: an adapter from an event to domain.ROUTES and back to the store.

Nothing is sent here: jobs are written durably, keyed by (event, channel, recipient), and the dispatcher
sends them. So a redelivered event adds nothing, and a restart loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.events import Message
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.consumer import Incoming

from . import domain, messages
from .dispatch import Dispatcher
from .domain import Alerts, CallEnded, CallState, CaseState, Job, Known, Letters
from .projection import project
from .store import Store


class Notifier:
    def __init__(self, store: Store, dispatcher: Dispatcher, brief_url: str,
                 clock: Callable[[], datetime] = utc_now, letters: Letters = messages) -> None:
        self.store, self.dispatcher, self.brief_url = store, dispatcher, brief_url
        self.clock, self.letters = clock, letters

    async def handle(self, incoming: Incoming) -> None:
        """Side by side: remember this event, email the people it concerns, feed the firms. Each depends only on
        what earlier events left (the case's state is read once for both that need it); the event is done when
        all three are."""
        event, message = incoming.event, incoming.message
        route = domain.route_of(message)
        case = (asyncio.ensure_future(self.store.case(message.case_id))
                if route.case_for_alerts or route.case_for_firms else None)
        # the call as earlier events left it: read before this event's own change of it is written
        call_id = getattr(message, "call_id", None) if route.needs_call else None
        call = asyncio.ensure_future(self.store.call(call_id)) if call_id else None
        outcomes = await asyncio.gather(self._remember(message, route.remember(message), after=call),
                                        self._alert(route, event, message, case, call),
                                        self._feed(route, event, message, case), return_exceptions=True)
        if failure := next((outcome for outcome in outcomes if isinstance(outcome, BaseException)), None):
            raise failure

    async def _known(self, event: CloudEvent, case: Awaitable[CaseState | None] | None,
                     call: CallState | None = None) -> Known:
        return Known(event, self.clock(), await case if case is not None else None, call, self.brief_url)

    async def _remember(self, message: Message, state: CaseState | CallState | CallEnded | None,
                        after: Awaitable[CallState | None] | None = None) -> None:
        if after is not None and state is not None:
            await asyncio.shield(after)
        if isinstance(state, CaseState):
            await self.store.save_case(message.case_id, state)
        elif isinstance(state, CallState):
            await self.store.save_call(state)
        elif isinstance(state, CallEnded):
            await self.store.end_call(state.call_id, state.status)

    async def _alert(self, route: domain.Route, event: CloudEvent, message: Message,
                     case: Awaitable[CaseState | None] | None, call: Awaitable[CallState | None] | None) -> None:
        known = await self._known(event, case if route.case_for_alerts else None,
                                  await call if call is not None else None)
        alerts: Alerts = route.alerts(message, known, self.letters)
        if alerts.drop_reminders is not None:
            await self.store.drop_reminders(*alerts.drop_reminders)
        if alerts.jobs:
            preferences = await self.store.preferences_of({job.recipient for job in alerts.jobs})
            await self._send(domain.wanted(alerts.jobs, preferences))

    async def _feed(self, route: domain.Route, event: CloudEvent, message: Message,
                    case: Awaitable[CaseState | None] | None) -> None:
        """Each firm's outbound stream record (one write for all of them) and its webhook jobs."""
        known = await self._known(event, case if route.case_for_firms else None)
        firms = sorted(route.firms(message, known.case))
        if not firms:
            return
        projected = {firm: project(event, message, firm, known.case) for firm in firms}
        endpoints, _ = await asyncio.gather(self.store.endpoints_of(firms),
                                            self.store.stream(f"{event.id}:streams", projected))
        await self._send(domain.webhook_jobs(known, message, [(e["_id"], e["firm_id"]) for e in endpoints],
                                             projected))

    async def _send(self, jobs: list[Job]) -> None:
        """Write the jobs; those due now are written claimed and go to the dispatcher at once."""
        if not jobs:
            return
        now = self.clock()
        written = await self.store.add_jobs(domain.claimed(jobs, now, self.dispatcher.lease_until(now)))
        self.dispatcher.hand_over([job for job in written if job.status == "sending"])
