from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from snapshots_ui.fleet_cache import provider_problem_current


def provider(request: HttpRequest) -> dict[str, object]:
    """The provider's host for the footer (never the token), and the last provider problem
    for the banner on pages that do not read provider data themselves (read only if shown)."""
    return {
        "provider_host": urlsplit(settings.VPS_API_BASE_URL).netloc,
        "provider_problem": SimpleLazyObject(lambda: provider_problem_current() or ""),
    }


def notifications(request: HttpRequest) -> dict[str, object]:
    """Paused notification targets, for the Admins' banner (read only if shown)."""
    from snapshots_ui import roles
    from snapshots_ui.models import NotificationTarget

    def paused() -> list[NotificationTarget]:
        user = getattr(request, "user", None)
        if user is None or not user.has_perm(roles.NOTIFICATIONS):
            return []
        return list(NotificationTarget.objects.filter(paused_at__isnull=False, enabled=True))

    return {"paused_targets": SimpleLazyObject(paused)}
