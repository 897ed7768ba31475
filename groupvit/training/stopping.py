"""Stopping a training run on a signal: at the next step boundary, or at once on a second signal."""

from __future__ import annotations

import signal


class TrainingStopped(KeyboardInterrupt):
    """The run stopped on a signal (after saving a checkpoint when it could): `signum` is the signal, so the
    command exits with 128 + signum as a process killed by it would (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT, at_boundary: bool = False) -> None:
        super().__init__(signum)
        self.signum = int(signum)
        self.at_boundary = at_boundary  # raised between steps: the state there is consistent and can be saved


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM (a scheduler ending the job) asks the loop to stop after the step in
    progress, so the checkpoint it saves is exactly a step boundary; a second signal stops at once, saving
    nothing (the stream has drawn a batch the weights have not taken)."""

    def __init__(self) -> None:
        import threading
        self.requested = False
        self.signum = int(signal.SIGINT)
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise TrainingStopped(signum)
        self.requested = True
        self.signum = signum

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
