from django.apps import AppConfig


class ProviderSimConfig(AppConfig):
    name = "provider_sim"
    verbose_name = "Provider simulator"
