"""The form profile a season uses, as any service reads it from the season's events or its projection."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from contracts.builtin_profiles import builtin_profile, default_profile_ref
from contracts.codes import ActivityKind, Channel
from contracts.profiles import FormProfile, ProfileRef

# Read models keep an adjusted profile as JSON text: its field paths (metrics.first_pass_rate) have dots,
# which document stores do not take as keys.
ADJUSTED_PROFILE_KEY = "adjusted_profile_json"


def declared_ref(kind: ActivityKind | str, declared: ProfileRef | Mapping[str, Any] | None) -> ProfileRef:
    """The profile a season declared when it opened, or Shanghai's of its kind when it named none."""
    if declared is None:
        return default_profile_ref(kind)
    return declared if isinstance(declared, ProfileRef) else ProfileRef.model_validate(declared)


def season_profile(kind: ActivityKind | str, declared: ProfileRef | Mapping[str, Any] | None,
                   adjusted: FormProfile | Mapping[str, Any] | str | None = None) -> FormProfile:
    """The season's profile: the organizer's latest adjustment, else the built-in one it declared."""
    if adjusted is not None:
        if isinstance(adjusted, FormProfile):
            return adjusted
        if isinstance(adjusted, str):
            return FormProfile.model_validate(json.loads(adjusted))
        return FormProfile.model_validate(adjusted)
    ref = declared_ref(kind, declared)
    profile = builtin_profile(ref)
    if profile is None:  # a season is opened with a known profile only; this keeps an odd store readable
        profile = builtin_profile(default_profile_ref(kind))
    assert profile is not None
    return profile


def channel_label(channel: Channel, profile: FormProfile) -> str:
    """A channel's name; the direct channel's is the season's own (其他-市质协会员与质量推进部 in Shanghai)."""
    if channel is Channel.DIRECT and profile.direct_channel_name:
        return profile.direct_channel_name
    return channel.label


def profile_of_document(document: Mapping[str, Any]) -> FormProfile:
    """The season's profile from a projected season document (SeasonOpened's fields and adjustments)."""
    return season_profile(document["kind"], document.get("profile"), document.get(ADJUSTED_PROFILE_KEY))


def adjusted_profile_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a projection sets on its season document for a SeasonProfileAdjusted event."""
    profile = payload["profile"]
    return {
        "profile": {"profile_id": profile["profile_id"], "version": profile["version"]},
        ADJUSTED_PROFILE_KEY: json.dumps(profile, ensure_ascii=False, sort_keys=True),
    }
