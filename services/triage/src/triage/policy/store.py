"""The policy in force, reloaded without a restart when its file changes or on demand (SIGHUP)."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from triage.policy.lexicon import DEFAULT_POLICY_FILE, Policy, PolicyError, load_policy

log = logging.getLogger(__name__)
ENV_VAR = "TRIAGE_POLICY_FILE"


def policy_path() -> Path:
    """``TRIAGE_POLICY_FILE`` when set, else the lexicon shipped with the package."""
    configured = os.environ.get(ENV_VAR, "").strip()
    return Path(configured) if configured else DEFAULT_POLICY_FILE


class PolicyStore:
    """Holds the compiled policy; a file that fails to load is refused and the old policy kept."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else policy_path()
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._current = load_policy(self.path)  # no policy at all is fatal at start-up
        self.last_error: str | None = None

    @property
    def current(self) -> Policy:
        """The compiled policy in force."""
        return self._current

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def reload(self) -> bool:
        """Load the file again; True when a new policy took effect, False when it was refused."""
        with self._lock:
            self._stamp = self._file_stamp()
            try:
                policy = load_policy(self.path)
            except PolicyError as exc:
                self.last_error = str(exc)
                log.error(
                    "policy file rejected; keeping the policy in force",
                    extra={"error": str(exc), "version": self._current.version},
                )
                return False
            previous, self._current, self.last_error = self._current.version, policy, None
        log.info("policy loaded", extra={"previous_version": previous, "version": policy.version})
        return True

    def reload_if_changed(self) -> bool:
        """Reload when the file's modification time or size moved since the last load."""
        if self._file_stamp() != self._stamp:
            return self.reload()
        return False

    def summary(self) -> dict[str, Any]:
        """What ``GET /v1/policy`` shows: version, source path and what the lexicon holds."""
        return {**self._current.summary(), "last_reload_error": self.last_error}
