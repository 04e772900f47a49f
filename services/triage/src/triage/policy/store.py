"""The policy in force, reloaded without a restart when its file changes or on demand (SIGHUP)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from triage.policy.lexicon import DEFAULT_LAYER_FILES, DEFAULT_POLICY_FILE, Policy, PolicyError, load_policy

log = logging.getLogger(__name__)
ENV_VAR = "TRIAGE_POLICY_FILE"
OVERLAYS_ENV_VAR = "TRIAGE_POLICY_OVERLAYS"


def policy_path() -> Path:
    """``TRIAGE_POLICY_FILE`` when set, else the lexicon shipped with the package."""
    configured = os.environ.get(ENV_VAR, "").strip()
    return Path(configured) if configured else DEFAULT_POLICY_FILE


def overlay_paths() -> tuple[Path, ...]:
    """Agency overlays named in ``TRIAGE_POLICY_OVERLAYS`` (comma-separated paths), in order."""
    configured = os.environ.get(OVERLAYS_ENV_VAR, "")
    return tuple(Path(item.strip()) for item in configured.split(",") if item.strip())


class PolicyStore:
    """Holds the compiled policy; a file that fails to load is refused and the old policy kept."""

    def __init__(self, path: Path | str | None = None, overlays: Sequence[Path | str] | None = None) -> None:
        self.path = Path(path) if path is not None else policy_path()
        # The shipped language packs, then the agency's overlays: every file is watched.
        extra = overlay_paths() if overlays is None else tuple(Path(o) for o in overlays)
        self.layers = DEFAULT_LAYER_FILES + extra
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._current = self._load()  # no policy at all is fatal at start-up
        self.last_error: str | None = None

    @property
    def current(self) -> Policy:
        """The compiled policy in force."""
        return self._current

    def _load(self) -> Policy:
        return load_policy(self.path, self.layers)

    def _file_stamp(self) -> tuple[tuple[int, int] | None, ...]:
        stamps: list[tuple[int, int] | None] = []
        for path in (self.path, *self.layers):
            try:
                stat = path.stat()
            except OSError:
                stamps.append(None)
            else:
                stamps.append((stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def reload(self) -> bool:
        """Load the file again; True when a new policy took effect, False when it was refused."""
        with self._lock:
            self._stamp = self._file_stamp()
            try:
                policy = self._load()
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
        """Reload when any policy file's modification time or size moved since the last load."""
        if self._file_stamp() != self._stamp:
            return self.reload()
        return False

    def summary(self) -> dict[str, Any]:
        """What ``GET /v1/policy`` shows: version, source path and what the lexicon holds."""
        return {**self._current.summary(), "last_reload_error": self.last_error}
