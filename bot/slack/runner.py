"""Bolt's listener runner, told when `ack()` happened instead of polling for it.

Stock bolt (1.30, `slack_bolt/listener/thread_runner.py`) starts a listener on its executor and
then waits for the ack with `time.sleep(0.01)` in a loop, so no answer leaves before the next
10 ms tick. Here the request thread waits on a `threading.Event` that `ack()` sets (and that the
listener's end sets, should it fail or never ack), so the answer leaves as soon as it exists.
Everything else is bolt's: the listener still runs on the listener executor and may keep
working after the ack, the wait still ends at the listener's `ack_timeout` (3 s), errors go to
the same handlers, and lazy listeners, auto-acknowledged events and `process_before_response`
take bolt's own path unchanged.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import Any

from slack_bolt import Ack, BoltResponse
from slack_bolt.listener import Listener
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.request import BoltRequest


class SignallingAck(Ack):
    """An `Ack` that sets `done` once the response is set."""

    def __init__(self, done: threading.Event) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.done = done

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = super().__call__(*args, **kwargs)
        self.done.set()
        return response


class SignalledListenerRunner(ThreadListenerRunner):
    @classmethod
    def replacing(cls, runner: ThreadListenerRunner) -> SignalledListenerRunner:
        """This runner with everything `runner` was built with (handlers, executor)."""
        return cls(
            logger=runner.logger,
            process_before_response=runner.process_before_response,
            listener_error_handler=runner.listener_error_handler,
            listener_start_handler=runner.listener_start_handler,
            listener_completion_handler=runner.listener_completion_handler,
            listener_executor=runner.listener_executor,
            lazy_listener_runner=runner.lazy_listener_runner,
        )

    def run(
        self,
        request: BoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: Listener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        if (
            self.process_before_response
            or request.lazy_only
            or listener.lazy_functions
            or listener.auto_acknowledgement  # acked before the listener starts: no wait
        ):
            return super().run(request, response, listener_name, listener, starting_time)
        started = starting_time if starting_time is not None else time.time()
        done = threading.Event()
        ack = SignallingAck(done)
        request.context["ack"] = ack  # what the listener's `ack` argument is built from
        outcome: BoltResponse | None = response

        def run_listener() -> None:  # bolt's own body, plus `done.set()` at the end
            nonlocal outcome
            try:
                self.listener_start_handler.handle(request=request, response=outcome)
                listener.run_ack_function(request=request, response=response)
            except Exception as error:
                if outcome is None:
                    outcome = BoltResponse(status=500)
                outcome.status = 500
                if ack.response is not None:  # already acknowledged
                    outcome = None
                self.listener_error_handler.handle(error=error, request=request, response=outcome)
                ack.response = outcome
            finally:
                done.set()
                self.listener_completion_handler.handle(request=request, response=outcome)

        self.listener_executor.submit(run_listener)
        done.wait(timeout=max(0.0, listener.ack_timeout - (time.time() - started)))
        if outcome is None and ack.response is None:
            self.logger.warning(
                f"{listener_name} did not call ack() within {listener.ack_timeout} s"
            )
            return None
        if outcome is None:
            return ack.response
        return outcome


#: How long a thread may hold the GIL while another waits (CPython's default is 5 ms).
SWITCH_INTERVAL_SECONDS = 0.0005


def tune_interpreter() -> None:
    """For a serving process, once it is built: hand the GIL over sooner, so that an answer
    whose thread is ready is not held behind a busy one for up to 5 ms; and move everything
    alive at start-up (modules, the app, the engine) out of the garbage collector's sight,
    so its collections walk only what requests make."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    gc.collect()
    gc.freeze()
