from datetime import datetime

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from snapshots_ui import polling, roles, statuses
from snapshots_ui.accounts import EVENT_LABELS
from snapshots_ui.models import LIFECYCLE_EVENT_LABELS
from snapshots_ui.provider import budget
from snapshots_ui.statuses import SERVER_STATUS_LABELS, SNAPSHOT_STATUS_LABELS, badge_tone

register = template.Library()


@register.filter
def size_mb(value: int | None) -> str:
    """5120 -> "5.0 GB", 512 -> "512 MB", None -> "—"."""
    if value is None:
        return "—"
    if value >= 1024 * 1024:
        return _("%(n).1f TB") % {"n": value / (1024 * 1024)}
    if value >= 1024:
        return _("%(n).1f GB") % {"n": value / 1024}
    return _("%(n)d MB") % {"n": value}


@register.simple_tag
def reltime(value: datetime | None) -> str:
    """A relative time ("12 minutes ago") with the full time on hover."""
    if value is None:
        return format_html('<span class="muted">{}</span>', _("never"))
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        formats.date_format(local, "DATETIME_FORMAT") + " " + local.strftime("%Z"),
        naturaltime(value),
    )


@register.simple_tag
def status_badge(status: str | None, kind: str = "snapshot") -> str:
    """A badge for a provider status, shown verbatim when the status is new to us."""
    labels = SERVER_STATUS_LABELS if kind == "server" else SNAPSHOT_STATUS_LABELS
    raw = status or _("unknown")
    label = labels.get(status or "", raw.replace("_", " "))
    return format_html(
        '<span class="badge badge-{}" data-status="{}">{}</span>', badge_tone(status), raw, label
    )


@register.filter
def duration(seconds: float | None) -> str:
    """90 -> "1 min 30 s"; each unit through ngettext, for languages with plural forms."""
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(ngettext("%(n)d h", "%(n)d h", hours) % {"n": hours})
    if minutes:
        parts.append(ngettext("%(n)d min", "%(n)d min", minutes) % {"n": minutes})
    if (secs and not hours) or not parts:
        parts.append(ngettext("%(n)d s", "%(n)d s", secs) % {"n": secs})
    return " ".join(parts)


@register.filter
def snapshot_done(status: str) -> bool:
    """Whether a snapshot with this provider status is complete (and so restorable)."""
    return statuses.snapshot_is_restorable(status)


@register.filter
def snapshot_running(status: str) -> bool:
    return statuses.snapshot_is_running(status)


@register.filter
def server_running(status: str | None) -> bool:
    return statuses.server_is_running(status)


@register.filter
def every(seconds: float) -> str:
    """An interval in htmx's trigger syntax: 1.5 -> "every 1.5s"."""
    return f"every {seconds:g}s"


@register.simple_tag
def stuck_poll_seconds() -> int:
    """How often a stuck operation is still checked at the provider."""
    return settings.VPS_STUCK_POLL_SECONDS


@register.filter
def event_label(action: str) -> str:
    """ "account.login" -> "Logged in"; an action without a label is shown as it is."""
    return str(EVENT_LABELS.get(action) or LIFECYCLE_EVENT_LABELS.get(action, action))


@register.simple_tag
def poll_period() -> float:
    """Seconds between two checks of an operation in progress, as the budget allows now."""
    return polling.poll_period_current()


@register.simple_tag
def provider_pause() -> float:
    """Seconds left of a pause the provider asked for (a 429), 0 when there is none."""
    return budget.paused_for()


@register.filter
def get_item(mapping: dict[object, object] | None, key: object) -> object:
    """``records|get_item:snapshot.id``: a dictionary's value, or nothing."""
    return (mapping or {}).get(key)


ROLE_LABELS = {
    roles.VIEWER: gettext_lazy("Viewer"),
    roles.OPERATOR: gettext_lazy("Operator"),
    roles.ADMIN: gettext_lazy("Admin"),
}


@register.filter
def role_label(group_name: str) -> str:
    """A role's name in the page's language; any other group's name as it is."""
    return str(ROLE_LABELS.get(group_name, group_name))
