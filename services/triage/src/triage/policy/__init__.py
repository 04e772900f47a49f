"""The triage policy: a versioned lexicon (data) and a plain-Python engine that decide a call."""

from triage.policy.engine import classify, default_policy, invariance_signature
from triage.policy.lexicon import DEFAULT_POLICY_FILE, Policy, PolicyError, load_policy
from triage.policy.store import PolicyStore

__all__ = [
    "DEFAULT_POLICY_FILE",
    "Policy",
    "PolicyError",
    "PolicyStore",
    "classify",
    "default_policy",
    "invariance_signature",
    "load_policy",
]
