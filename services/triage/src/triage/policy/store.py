"""The policy in force, reloaded without a restart when its file changes or on SIGHUP."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from triage.policy.lexicon import DEFAULT_LEXICON, LexiconError, Policy, load_policy

log = logging.getLogger(__name__)


def policy_path() -> Path:
    """``TRIAGE_POLICY_FILE`` when set, else the lexicon shipped with the package."""
    configured = os.environ.get("TRIAGE_POLICY_FILE", "").strip()
    return Path(configured) if configured else DEFAULT_LEXICON


class PolicyStore:
    """Holds the compiled policy; a bad file is refused and the policy in force is kept."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or policy_path()
        self._lock = threading.Lock()
        self._mtime = self._stat()
        self.current: Policy = load_policy(self.path)  # a bad file at start-up is fatal: no policy at all

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def reload(self) -> bool:
        """Load the file again; True when a new policy took effect."""
        with self._lock:
            self._mtime = self._stat()
            try:
                policy = load_policy(self.path)
            except LexiconError as exc:
                log.error("policy file rejected; keeping the policy in force", extra={"error": str(exc)})
                return False
            previous, self.current = self.current.version, policy
            log.info("policy reloaded", extra={"previous_version": previous, "version": policy.version})
            return True

    def reload_if_changed(self) -> bool:
        """Reload when the file's modification time moved."""
        if self._stat() != self._mtime:
            return self.reload()
        return False

    def summary(self) -> dict[str, Any]:
        """What ``GET /v1/policy`` shows: version, source and what the lexicon holds."""
        policy = self.current
        per_family: dict[str, list[str]] = {}
        for spec in policy.specs.values():
            per_family.setdefault(spec.family.value, []).append(spec.code)
        return {
            "version": policy.version,
            "source": policy.source,
            "indicators": per_family,
            "narrative_phrases": len(policy.narrative.codes),
            "call_type_phrases": len(policy.call_type.codes),
            "protected_descriptors": policy.descriptor_counts,
        }
