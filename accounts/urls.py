from __future__ import annotations

from django.urls import path

from accounts import second_factor_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("home/", views.home, name="home"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("2fa/", second_factor_views.setup, name="second-factor-setup"),
    path("2fa/verify/", second_factor_views.verify, name="second-factor-verify"),
    path("2fa/recovery-codes/", second_factor_views.recovery_codes, name="second-factor-recovery-codes"),
    path("2fa/disable/", second_factor_views.disable, name="second-factor-disable"),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
