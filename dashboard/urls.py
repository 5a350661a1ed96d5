from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from snapshots_ui.views import account, health, provider, tokens

handler403 = "snapshots_ui.views.common.permission_denied"

urlpatterns = [
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/verify/", account.two_factor_verify, name="two_factor_verify"),
    path("account/two-factor/", account.two_factor_setup, name="two_factor_setup"),
    path("account/password/", account.PasswordChangeView.as_view(), name="password_change"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        account.PasswordResetConfirmView.as_view(),
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
    path("admin/", admin.site.urls),
    path("api/", include("snapshots_ui.api.urls")),
    path("account/tokens/", tokens.token_list, name="api_tokens"),
    path("account/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="api_token_revoke"),
    path("", include("snapshots_ui.urls")),
]
