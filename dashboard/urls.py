from collections.abc import Callable

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.http import require_http_methods
from django.views.generic import RedirectView

from snapshots_ui.views import account, health, provider, tokens

handler403 = "snapshots_ui.views.common.permission_denied"

# Django's form views treat PUT as POST and its admin answers PUT, PATCH and DELETE as GET;
# the dashboard serves forms with GET and POST only, and refuses the rest (405).
forms_only: Callable[[Callable], Callable] = require_http_methods(["GET", "HEAD", "POST"])


def _forms_only(patterns: list[URLPattern | URLResolver]) -> None:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _forms_only(pattern.url_patterns)
        else:
            pattern.callback = forms_only(pattern.callback)


admin_urls = admin.site.urls
_forms_only(admin_urls[0])

urlpatterns = [
    path("login/", forms_only(account.LoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/verify/", account.two_factor_verify, name="two_factor_verify"),
    path("account/two-factor/", account.two_factor_setup, name="two_factor_setup"),
    path(
        "account/password/",
        forms_only(account.PasswordChangeView.as_view()),
        name="password_change",
    ),
    path(
        "password-reset/", forms_only(auth_views.PasswordResetView.as_view()), name="password_reset"
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        forms_only(account.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("language/", account.language_set, name="language_set"),
    path("health/", health.health, name="health"),
    path("health/provider/", health.health_provider, name="health_provider"),
    path("metrics", provider.metrics_endpoint, name="metrics"),
    path("favicon.ico", RedirectView.as_view(url="/static/img/favicon.svg", permanent=True)),
    path("admin/", admin_urls),
    path("api/", include("snapshots_ui.api.urls")),
    path("account/tokens/", tokens.token_list, name="api_tokens"),
    path("account/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="api_token_revoke"),
    path("", include("snapshots_ui.urls")),
]
