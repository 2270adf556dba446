from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "paas.core"
    label = "core"
    verbose_name = "paas"
